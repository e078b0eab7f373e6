//! One end-to-end test binary (it links once and shares fixtures), one module per area.

mod cli;
mod hostile;
mod kiosk_core;
mod kiosk_ui;
mod lost_kiosk;
mod operations;
mod organizer_page;
mod placements;
mod postgres;
mod program_report;
mod school_year;
mod server_ingest;
mod soak;
mod trustworthy_hours;
