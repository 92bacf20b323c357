//! Gradient-flow diagnostics: what the monitor records during training, in a
//! tidy table, and how that table is written and read back.
pub mod detect;
pub mod hook;
pub mod observe;
pub mod read;
pub mod record;
pub mod stats;

pub use hook::{MonitorHook, layer_name};
pub use observe::{LayerProbe, Monitor, MonitorConfig, NonFinite};
pub use read::{parse_records, read_records};
pub use record::{
    GLOBAL, HEADER, RecordIndex, Records, Row, coordinate, coordinates, layer_position, metric, point,
    write_csv, write_json_lines,
};
