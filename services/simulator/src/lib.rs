//! A fake KooGallery (the marketplace side).
#![warn(missing_docs)]
