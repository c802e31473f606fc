//! The subject family a callback belongs to, which decides the worker that owns it.

use crate::wire::wire_enum;

wire_enum!(
    /// Which family of KooGallery callbacks a request belongs to; the third token of its inbound subject
    /// (`koofill.inbound.<family>.<activity>`), and so the consumer that handles it.
    Family("family") {
        /// SaaS V2 instance lifecycle: provisioning.
        Saas = "saas",
        /// General-goods `orderNotify`: provisioning.
        Order = "order",
        /// License 2.0 license codes: the license worker.
        License = "license",
        /// Joint-operation (联营) Kit directory sync: provisioning.
        Kit = "kit",
    }
);
