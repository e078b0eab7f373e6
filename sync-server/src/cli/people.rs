//! `school`, `kiosk`, `mentor`, `clearance`, `organizer` and `coordinator`: who and where.

use std::path::PathBuf;

use chrono::Utc;
use clap::Subcommand;
use pm_shared::{KioskId, MentorId, SchoolId, TimeZone};
use sync_server::db::Db;
use sync_server::import;

use super::secret;

#[derive(Subcommand, Debug)]
pub enum SchoolAction {
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        timezone: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KioskAction {
    /// Registers a kiosk; prints its id, and its token alone on the last line.
    Add {
        #[arg(long)]
        school: String,
        #[arg(long)]
        name: String,
        /// The kiosk this one replaces (stolen, broken, token lost): its token is revoked, and
        /// this one may deliver what the old one recorded and never sent (run `kiosk setup
        /// --token NEW` on the old kiosk's data folder).
        #[arg(long)]
        replaces: Option<String>,
    },
    Revoke {
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum MentorAction {
    /// Imports or updates mentors from CSV with header id,name,school,language (optional
    /// columns teacher,classroom place them).
    Import {
        file: PathBuf,
        /// Also reactivate mentors the file names who were deactivated (without it, a
        /// re-import never quietly gives a deactivated mentor her badge back).
        #[arg(long)]
        reactivate: bool,
    },
    Deactivate {
        id: String,
    },
    /// Places a mentor with a teacher and classroom (shown on her kiosk confirmation, and in
    /// the hours report). `--clear` removes the placement.
    #[command(group(clap::ArgGroup::new("place").required(true).multiple(true)
        .args(["teacher", "classroom", "clear"])))]
    Place {
        id: String,
        #[arg(long)]
        teacher: Option<String>,
        #[arg(long)]
        classroom: Option<String>,
        #[arg(long, conflicts_with_all = ["teacher", "classroom"])]
        clear: bool,
    },
    /// Moves a mentor to another school from a date on (default: today at the new school).
    /// What she did before that date was earned at her old school and still counts.
    Move {
        id: String,
        #[arg(long)]
        school: String,
        /// The first school-local day at the new school (YYYY-MM-DD), today at the latest.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClearanceAction {
    /// Records a mentor's clearance of a kind, good through a date (a newer record of the same
    /// kind replaces it; the old one stays in the history).
    Set {
        mentor: String,
        /// background-check, tb-test, initial-training, or the program's own kind.
        #[arg(long)]
        kind: String,
        /// The last day it is good (YYYY-MM-DD).
        #[arg(long)]
        expires: chrono::NaiveDate,
    },
    /// Records clearances from CSV with header mentor_id,kind,expires (all or none).
    Import { file: PathBuf },
    /// Every mentor's current clearances with their status (expired, expiring within 30 days,
    /// current). CSV header: mentor_id,mentor_name,school_id,kind,expires,status.
    List {
        #[arg(long)]
        school: Option<String>,
        /// Only expired and expiring ones.
        #[arg(long)]
        attention: bool,
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum OrganizerAction {
    /// Prints a token alone on the last line.
    Add {
        #[arg(long)]
        name: String,
        /// Comma-separated school ids she may see.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        school: Option<String>,
        /// Every school.
        #[arg(long)]
        all: bool,
    },
    Revoke {
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CoordinatorAction {
    Add {
        #[arg(long)]
        school: String,
        #[arg(long)]
        name: String,
        /// 8 to 12 digits, not one digit repeated nor a run like 12345678; stored only as a
        /// salted Argon2id hash. `-` reads it from standard input (keeps it out of the shell's
        /// history).
        #[arg(long)]
        pin: String,
    },
    /// A new PIN for a coordinator (clears "weak" and "exposed").
    SetPin {
        #[arg(long)]
        school: String,
        #[arg(long)]
        name: String,
        /// 8 to 12 digits, not trivial, or `-` to read it from standard input.
        #[arg(long)]
        pin: String,
    },
    /// Every coordinator and the state of her PIN (TSV: school, name, ok | weak | exposed).
    List,
    /// A coordinator leaves: her PIN stops working at the next roster pull.
    Remove {
        #[arg(long)]
        school: String,
        #[arg(long)]
        name: String,
    },
}

pub fn school(db: &mut Db, action: SchoolAction) -> anyhow::Result<()> {
    match action {
        SchoolAction::Add { id, name, timezone } => {
            db.add_school(&SchoolId::new(id)?, &name, TimeZone::new(&timezone)?)?;
        }
    }
    Ok(())
}

pub fn kiosk(db: &mut Db, action: KioskAction) -> anyhow::Result<()> {
    match action {
        KioskAction::Add {
            school,
            name,
            replaces,
        } => {
            let replaces = replaces.map(KioskId::new).transpose()?;
            let school = SchoolId::new(school)?;
            let (id, token) = db.add_replacing_kiosk(&school, &name, replaces.as_ref())?;
            if replaces.is_some() {
                let exposed: Vec<String> = db
                    .coordinator_statuses(Some(std::slice::from_ref(&school)))?
                    .into_iter()
                    .filter(|c| c.exposed_at.is_some())
                    .map(|c| c.name)
                    .collect();
                let days = db
                    .rules()?
                    .exposed_pin_grace_days
                    .unwrap_or(pm_shared::DEFAULT_EXPOSED_PIN_GRACE_DAYS);
                if !exposed.is_empty() {
                    eprintln!(
                        "warning: the lost kiosk held the PIN hashes of {}: set a new PIN for each (coordinator set-pin); kiosks refuse the old ones after {days} days",
                        exposed.join(", ")
                    );
                }
            }
            println!("kiosk {id} added; its token (shown once, stored only hashed):");
            println!("{token}");
        }
        KioskAction::Revoke { id } => db.revoke_kiosk(&KioskId::new(id)?)?,
    }
    Ok(())
}

pub fn mentor(db: &mut Db, action: MentorAction) -> anyhow::Result<()> {
    match action {
        MentorAction::Import { file, reactivate } => {
            let file = import::read_mentor_file(db, &file)?;
            db.import_mentors(&file.mentors, Some(&file), Utc::now(), reactivate)?;
            println!("imported {} mentors", file.mentors.len());
        }
        MentorAction::Deactivate { id } => db.set_mentor_active(&MentorId::new(id)?, false)?,
        MentorAction::Place {
            id,
            teacher,
            classroom,
            clear,
        } => {
            let id = MentorId::new(id)?;
            let placement = if clear {
                pm_shared::Placement::default()
            } else {
                // A part not given stays as it was.
                let now = db.placements(None)?.remove(&id).unwrap_or_default();
                pm_shared::Placement::new(
                    teacher.as_deref().or(now.teacher.as_deref()),
                    classroom.as_deref().or(now.classroom.as_deref()),
                )?
            };
            db.set_placement(&id, &placement)?;
            println!(
                "{id}: {}",
                sync_server::placements::placement_text(&placement)
                    .unwrap_or_else(|| "not placed".into())
            );
        }
        MentorAction::Move { id, school, from } => {
            let school = SchoolId::new(school)?;
            let now = Utc::now();
            let today = now
                .with_timezone(&db.school(&school)?.time_zone.tz())
                .date_naive();
            let from = from.unwrap_or(today);
            db.move_mentor(&MentorId::new(id)?, &school, from, today, now)?;
            println!("moved; from {from} her hours count at {school}");
        }
    }
    Ok(())
}

pub fn clearance(db: &mut Db, action: ClearanceAction) -> anyhow::Result<()> {
    match action {
        ClearanceAction::Set {
            mentor,
            kind,
            expires,
        } => {
            let clearance = pm_shared::Clearance {
                kind: pm_shared::ClearanceKind::new(&kind)?,
                expires,
            };
            let mentor = MentorId::new(mentor)?;
            db.add_clearances(&[(mentor.clone(), clearance.clone())], Utc::now())?;
            println!("{mentor}: {} good through {expires}", clearance.kind);
        }
        ClearanceAction::Import { file } => {
            let list = import::read_clearances(db, &file)?;
            db.add_clearances(&list, Utc::now())?;
            println!("recorded {} clearances", list.len());
        }
        ClearanceAction::List {
            school,
            attention,
            format,
        } => {
            let schools = school.map(SchoolId::new).transpose()?.map(|s| vec![s]);
            let rows = sync_server::placements::clearance_list(
                db,
                schools.as_deref(),
                attention,
                Utc::now(),
            )?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", sync_server::placements::clearances_csv(&rows)?);
            }
        }
    }
    Ok(())
}

pub fn organizer(db: &mut Db, action: OrganizerAction) -> anyhow::Result<()> {
    match action {
        OrganizerAction::Add { name, school, all } => {
            let schools: Option<Vec<SchoolId>> = if all {
                None
            } else {
                Some(
                    school
                        .unwrap_or_default()
                        .split(',')
                        .map(|s| SchoolId::new(s.trim()))
                        .collect::<Result<_, _>>()?,
                )
            };
            let token = db.add_organizer(&name, schools.as_deref())?;
            println!("organizer {name:?} added; her token (shown once, stored only hashed):");
            println!("{token}");
        }
        OrganizerAction::Revoke { name } => db.revoke_organizer(&name)?,
    }
    Ok(())
}

pub fn coordinator(db: &mut Db, action: CoordinatorAction) -> anyhow::Result<()> {
    match action {
        CoordinatorAction::Add { school, name, pin } => {
            let pin = secret(&pin)?;
            pm_shared::check_new_pin(&pin)?;
            let secrets = pm_shared::pin_secrets(&pin, &rand::random(), &rand::random())?;
            let school = SchoolId::new(school)?;
            db.add_coordinator(&school, &name, &secrets.hash, Utc::now())?;
            db.set_coordinator_pin(&school, &name, &secrets)?;
            println!("coordinator {name:?} can unlock coordinator mode after the kiosks' next roster sync");
        }
        CoordinatorAction::SetPin { school, name, pin } => {
            let pin = secret(&pin)?;
            pm_shared::check_new_pin(&pin)?;
            let secrets = pm_shared::pin_secrets(&pin, &rand::random(), &rand::random())?;
            db.set_coordinator_pin(&SchoolId::new(school)?, &name, &secrets)?;
            println!("{name:?}'s new PIN works after the kiosks' next roster sync");
        }
        CoordinatorAction::List => {
            let cutoff = sync_server::db::exposed_cutoff(&db.rules()?, Utc::now());
            for c in db.coordinator_statuses(None)? {
                let state = match (&c.exposed_at, c.weak) {
                    (Some(at), _) if at.as_str() <= sync_server::db::ts(cutoff).as_str() => {
                        format!("exposed {at}: refused by the kiosks, set a new PIN")
                    }
                    (Some(at), _) => format!("exposed {at}: set a new PIN"),
                    (None, true) => "weak (set before 8 digits): set a new PIN".to_owned(),
                    (None, false) => "ok".to_owned(),
                };
                println!("{}\t{}\t{state}", c.school_id, c.name);
            }
        }
        CoordinatorAction::Remove { school, name } => {
            db.remove_coordinator(&SchoolId::new(school)?, &name, Utc::now())?;
            println!("{name:?} removed: her PIN stops working at the kiosks' next roster sync");
        }
    }
    Ok(())
}
