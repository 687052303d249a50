'use strict';
// Webhook sidecar. Secrets come from the environment at run time, never from the image.
require('dotenv').config();
const express = require('express');
const jwt = require('jsonwebtoken');

const app = express();
app.use(express.json());

app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));

app.post('/hooks/orders', (req, res) => {
  const token = (req.get('authorization') || '').replace(/^Bearer /, '');
  try {
    jwt.verify(token, process.env.JWT_SECRET, { algorithms: ['HS256'] });
  } catch (e) {
    return res.status(401).end();
  }
  res.status(202).json({ received: Array.isArray(req.body) ? req.body.length : 1 });
});

const port = Number(process.env.PORT || 3000);
app.listen(port, () => console.log(`listening on ${port}`));
