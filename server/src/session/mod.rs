//! Launch-scoped sessions: one per completed launch, named by an unguessable id and bound to the
//! browser by a per-launch cookie where cookies work. Tokens stay here, encrypted.
pub mod authorise;
pub mod binding;
pub mod crypto;
