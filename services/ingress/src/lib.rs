//! The KooGallery-facing ingress.
