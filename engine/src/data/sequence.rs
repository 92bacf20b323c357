//! Sequence tasks for recurrent networks (being written).
