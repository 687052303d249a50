//! Lints the files that build and run images (Dockerfiles, `.dockerignore`, Compose, Kubernetes
//! and CI files) for secret leaks before any build, and rewrites Dockerfiles to the safe form.

pub mod dockerfile;
