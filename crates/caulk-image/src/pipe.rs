//! Overlaps producing a stream with consuming it: a thread reads (decompresses and hashes) ahead
//! into a small bounded queue while the caller walks and scans, so one large layer keeps two cores
//! busy. Memory is bounded by the queue: `DEPTH` chunks of `CHUNK` bytes.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver};

const CHUNK: usize = 256 << 10;
const DEPTH: usize = 4;

/// Runs `consume` on a reader that yields what `source` yields, read ahead on another thread.
pub fn pipelined<R: Read + Send, T>(mut source: R, consume: impl FnOnce(&mut dyn Read) -> T) -> T {
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        s.spawn(move || loop {
            let mut buf = vec![0u8; CHUNK];
            let mut n = 0;
            let result = loop {
                match source.read(&mut buf[n..]) {
                    Ok(0) => break Ok(()),
                    Ok(k) => {
                        n += k;
                        if n == buf.len() {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            buf.truncate(n);
            let last = n < CHUNK;
            if n > 0 && tx.send(Ok(buf)).is_err() {
                return; // the consumer stopped early
            }
            if let Err(e) = result {
                let _ = tx.send(Err(e));
                return;
            }
            if last {
                return;
            }
        });
        let mut reader = ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        };
        consume(&mut reader)
    })
}

struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0), // the producer is done
            }
        }
        let k = buf.len().min(self.cur.len() - self.pos);
        buf[..k].copy_from_slice(&self.cur[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_every_byte_and_the_error() {
        let data: Vec<u8> = (0..(3 * CHUNK + 17) as u32)
            .map(|i| (i % 251) as u8)
            .collect();
        let out = pipelined(io::Cursor::new(data.clone()), |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v
        });
        assert_eq!(out, data);
        let failing = io::Cursor::new(vec![1u8; 10]).chain(Failing);
        let err = pipelined(failing, |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap_err()
        });
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn consumer_may_stop_early() {
        let data = vec![7u8; 10 * CHUNK];
        let first = pipelined(io::Cursor::new(data), |r| {
            let mut b = [0u8; 3];
            r.read_exact(&mut b).unwrap();
            b
        });
        assert_eq!(first, [7, 7, 7]);
    }

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::UnexpectedEof.into())
        }
    }
}
