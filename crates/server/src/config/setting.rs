//! What a setting is: a name, a kind of value with its rules, its place in
//! `CONFIG GET *`, whether it is a config file directive and whether
//! `CONFIG SET` may change it. The four uses of a setting are written here
//! once per kind of value: read from the config file ([`Setting::load`]),
//! shown by `CONFIG GET` ([`Setting::show`]), changed by `CONFIG SET`
//! ([`Setting::assign`]) and written by `CONFIG REWRITE` ([`Setting::line`]).
//! The settings themselves are the table of directives in `parse.rs` and
//! the few in `custom.rs`.

use std::sync::LazyLock;

use super::custom::SET_ONLY;
use super::parse::DirectiveError;
use super::parse::DIRECTIVES;
use super::text::{
    atoi, format_memory, lossy, memtoll, push_quoted, strtol_octal, strtoll_lenient, yes_no,
    yes_no_str,
};
use super::{Config, ConfigChange, LoadOptions};

/// Access to one field of [`Config`].
pub(super) struct Field<T> {
    /// Reads the field.
    pub get: fn(&Config) -> &T,
    /// Writes the field.
    pub slot: fn(&mut Config) -> &mut T,
}

/// `Field { get, slot }` for a field of [`Config`].
macro_rules! field {
    ($f:ident) => {
        $crate::config::setting::Field {
            get: |c| &c.$f,
            slot: |c| &mut c.$f,
        }
    };
}
pub(super) use field;

/// The integer types of settings: a wide value saturated into the field's
/// type (the limits of each setting keep it in range anyway).
pub(super) trait Narrow {
    /// `v` limited to the type's range.
    fn narrow(v: i128) -> Self;
}

macro_rules! narrow {
    ($($t:ty),*) => {$(
        impl Narrow for $t {
            fn narrow(v: i128) -> Self {
                v.clamp(<$t>::MIN.into(), <$t>::MAX.into()) as $t
            }
        }
    )*};
}
narrow!(u16, i32, u32, i64, u64);

/// An integer field of [`Config`], seen as an `i128` (wide enough for every
/// signed and unsigned field).
macro_rules! int {
    ($f:ident) => {
        $crate::config::setting::IntField {
            get: |c| i128::from(c.$f),
            put: |c, v| c.$f = $crate::config::setting::Narrow::narrow(v),
        }
    };
}
pub(super) use int;

/// Access to an integer field (see [`int!`]).
pub(super) struct IntField {
    /// Reads the field.
    pub get: fn(&Config) -> i128,
    /// Writes the field.
    pub put: fn(&mut Config, i128),
}

/// A keyword field (`loglevel`, `appendfsync`, ...): its name and a parser
/// that stores a recognised keyword.
macro_rules! keyword {
    ($f:ident: $t:ty) => {
        $crate::config::setting::KeywordField {
            get: |c| c.$f.name(),
            put: |c, v| <$t>::parse(v).map(|k| c.$f = k).is_some(),
        }
    };
}
pub(super) use keyword;

/// Access to a keyword field (see [`keyword!`]).
pub(super) struct KeywordField {
    /// The current keyword.
    pub get: fn(&Config) -> &'static str,
    /// Stores the keyword `v` names (case-insensitively); false if none.
    pub put: fn(&mut Config, &[u8]) -> bool,
}

/// Access to an optional field (`requirepass`, `unixsocket`): the empty
/// value means none.
pub(super) struct OptionalField {
    /// The current value, if any.
    pub get: fn(&Config) -> Option<&[u8]>,
    /// Stores a value (`None`: none).
    pub put: fn(&mut Config, Option<&[u8]>),
}

/// How a number is read from the config file: the C library call of the
/// original.
#[derive(Clone, Copy)]
pub(super) enum Read {
    /// `atoi`: lenient, an `int`.
    Atoi,
    /// `strtoll(s, NULL, 10)`: lenient, saturating.
    Strtoll,
    /// `memtoll`: a size with an optional unit.
    Memory,
    /// `memtoll` stored in an unsigned field (a negative size wraps).
    MemoryUnsigned,
    /// `strtol(s, NULL, 8)` into a `mode_t`; overflow or a negative
    /// value reads as -1 (out of any range).
    Octal,
}

impl Read {
    fn read(self, s: &[u8]) -> i128 {
        match self {
            Read::Atoi => i128::from(atoi(s)),
            Read::Strtoll => i128::from(strtoll_lenient(s)),
            Read::Memory => i128::from(memtoll(s).0),
            Read::MemoryUnsigned => i128::from(memtoll(s).0 as u64),
            Read::Octal => {
                let (v, overflow) = strtol_octal(s);
                if overflow || v < 0 {
                    -1
                } else {
                    i128::from(v as u32)
                }
            }
        }
    }
}

/// Which values an integer setting accepts.
#[derive(Clone, Copy)]
pub(super) enum Limit {
    /// Every value its rules read.
    Any,
    /// Values in `min..=max`; the config file refuses others with `error`,
    /// `CONFIG SET` those above `max` (its minimum is its own, [`SetInt`]).
    Refuse {
        /// Least value.
        min: i128,
        /// Greatest value.
        max: i128,
        /// The config file's message.
        error: &'static str,
    },
    /// Values are raised or lowered into `min..=max`.
    Clamp {
        /// Least value.
        min: i128,
        /// Greatest value.
        max: i128,
    },
}

/// How `CONFIG SET` reads an integer setting.
#[derive(Clone, Copy)]
pub(super) enum SetInt {
    /// A command argument integer (`disque_core::args::parse_i64`) at least
    /// this.
    AtLeast(i128),
    /// A non-negative size with an optional known unit.
    Memory,
    /// `yes` or `no`, stored as 1 or 0.
    YesNo,
}

/// How an integer setting is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Show {
    /// In decimal.
    Decimal,
    /// In octal.
    Octal,
    /// In decimal for `CONFIG GET`, with the largest exact unit for
    /// `CONFIG REWRITE` (a negative value in decimal).
    Memory,
    /// `yes` (not 0) or `no` for `CONFIG GET`, in decimal for
    /// `CONFIG REWRITE` (`tcp-keepalive`).
    Flag,
}

/// An integer setting.
pub(super) struct Int {
    /// The field.
    pub field: IntField,
    /// How the config file writes it.
    pub read: Read,
    /// The values accepted.
    pub limit: Limit,
    /// How `CONFIG SET` reads it (when the setting is mutable).
    pub set: SetInt,
    /// How it is written.
    pub show: Show,
}

/// A check of a string value: the config file's message when refused.
pub(super) type Check = fn(&str) -> Result<(), String>;

/// Reads a custom directive's values into the configuration.
pub(super) type LoadValues =
    fn(&mut Config, &[Vec<u8>], &LoadOptions<'_>) -> Result<(), DirectiveError>;

/// Reads a custom `CONFIG SET` value into the configuration.
pub(super) type SetValue = fn(&mut Config, &[u8]) -> Result<(), Refusal>;

/// A custom `CONFIG REWRITE` value, given the working directory.
pub(super) type RewriteValue = fn(&Config, Option<&[u8]>) -> Option<Vec<u8>>;

/// What the server must do about a change, from the configuration before
/// and after it.
pub(super) type Change = fn(&Config, &Config) -> ConfigChange;

/// A setting whose rules are its own (`bind`, `dir`,
/// `client-output-buffer-limit`).
pub(super) struct Custom {
    /// How many values a config file directive takes (least, most).
    pub values: (usize, usize),
    /// Reads the directive's values.
    pub load: LoadValues,
    /// The `CONFIG GET` value.
    pub show: fn(&Config) -> Vec<u8>,
    /// Reads a `CONFIG SET` value (`None`: the setting is not mutable).
    pub set: Option<SetValue>,
    /// The value `CONFIG REWRITE` writes, if any (`cwd`: the working
    /// directory to write).
    pub line: RewriteValue,
}

/// The kind of value of a setting, with its rules.
pub(super) enum Kind {
    /// `yes` or `no`.
    Bool(Field<bool>),
    /// A string, taken as is; `check` may refuse it with a message (the
    /// config file's; `CONFIG SET` calls it an invalid argument).
    Str {
        /// The field.
        field: Field<String>,
        /// A check of the value.
        check: Option<Check>,
    },
    /// An optional string, none when empty, at most `max_len` bytes (only
    /// passwords have a limit, with the original's password message).
    Optional {
        /// The field.
        field: OptionalField,
        /// Longest value accepted.
        max_len: usize,
    },
    /// A keyword; the config file refuses others with `error`.
    Keyword {
        /// The field.
        field: KeywordField,
        /// The config file's message.
        error: &'static str,
    },
    /// An integer.
    Int(Int),
    /// Rules of its own.
    Custom(&'static Custom),
}

/// The reaction of most settings: none, the new value is read where it is
/// used.
pub(super) fn stored(_: &Config, _: &Config) -> ConfigChange {
    ConfigChange::Stored
}

/// What `CONFIG SET` may do with a setting.
pub(super) struct Set {
    /// Only clients allowed to change protected configs may (decision D14).
    pub protected: bool,
    /// The TLS contexts must build with the new value before it is taken
    /// (decision D13).
    pub tls: bool,
    /// What the server must do about the change.
    pub change: Change,
}

/// One setting of the table.
pub(super) struct Setting {
    /// The name (lower case).
    pub name: &'static str,
    /// The kind of value.
    pub kind: Kind,
    /// Position in `CONFIG GET *` (`None`: `CONFIG GET` does not know it).
    pub get: Option<u8>,
    /// Whether `CONFIG REWRITE` writes it (the original leaves `databases`
    /// alone).
    pub rewritten: bool,
    /// `Some` if `CONFIG SET` may change it.
    pub set: Option<Set>,
}

/// Why `CONFIG SET` refused a value.
pub(super) enum Refusal {
    /// `-ERR Invalid argument '<value>' for CONFIG SET '<param>'`.
    Invalid,
    /// This error reply text.
    Error(String),
}

const BAD_BOOL: &str = "argument must be 'yes' or 'no'";
const PASSWORD_TOO_LONG: &str = "Password is longer than CONFIG_AUTHPASS_MAX_LEN";

/// A setting of `kind`, rewritten, unknown to `CONFIG GET`, not mutable
/// (the builder methods below say otherwise). Names are written as byte
/// strings, as the parser reads them (tests/contrib_config.rs finds the
/// directives' names in `parse.rs` by that).
pub(super) const fn setting(name: &'static [u8], kind: Kind) -> Setting {
    let Ok(name) = std::str::from_utf8(name) else {
        panic!("a setting's name is text")
    };
    Setting {
        name,
        kind,
        get: None,
        rewritten: true,
        set: None,
    }
}

/// A `yes`/`no` setting.
pub(super) const fn boolean(name: &'static [u8], field: Field<bool>) -> Setting {
    setting(name, Kind::Bool(field))
}

/// A string setting.
pub(super) const fn string(name: &'static [u8], field: Field<String>) -> Setting {
    setting(name, Kind::Str { field, check: None })
}

/// A keyword setting (one of a few names).
pub(super) const fn one_of(
    name: &'static [u8],
    field: KeywordField,
    error: &'static str,
) -> Setting {
    setting(name, Kind::Keyword { field, error })
}

/// An optional setting of at most `max_len` bytes.
pub(super) const fn optional(name: &'static [u8], field: OptionalField, max_len: usize) -> Setting {
    setting(name, Kind::Optional { field, max_len })
}

/// An optional byte-string field of [`Config`] (`None` when empty).
macro_rules! opt_bytes {
    ($f:ident) => {
        $crate::config::setting::OptionalField {
            get: |c| c.$f.as_deref(),
            put: |c, v| c.$f = v.map(<[u8]>::to_vec),
        }
    };
}
pub(super) use opt_bytes;

/// An integer setting read by `read`, accepting any value, set like a
/// command argument of at least 0, written in decimal.
pub(super) const fn integer(name: &'static [u8], field: IntField, read: Read) -> Setting {
    setting(
        name,
        Kind::Int(Int {
            field,
            read,
            limit: Limit::Any,
            set: SetInt::AtLeast(0),
            show: Show::Decimal,
        }),
    )
}

impl Setting {
    /// Listed by `CONFIG GET` at this position.
    pub(super) const fn get(mut self, position: u8) -> Setting {
        self.get = Some(position);
        self
    }

    /// Mutable by `CONFIG SET`, the server reacting with `change`.
    pub(super) const fn set(mut self, change: Change) -> Setting {
        self.set = Some(Set {
            protected: false,
            tls: false,
            change,
        });
        self
    }

    /// A protected config (after [`Setting::set`]).
    pub(super) const fn protected(mut self) -> Setting {
        match &mut self.set {
            Some(set) => set.protected = true,
            None => panic!("protected: not mutable"),
        }
        self
    }

    /// A TLS setting (after [`Setting::set`]).
    pub(super) const fn tls(mut self) -> Setting {
        match &mut self.set {
            Some(set) => set.tls = true,
            None => panic!("tls: not mutable"),
        }
        self
    }

    /// Not written by `CONFIG REWRITE`.
    pub(super) const fn not_rewritten(mut self) -> Setting {
        self.rewritten = false;
        self
    }

    /// A string whose value `check` may refuse.
    pub(super) const fn check(mut self, check: Check) -> Setting {
        match &mut self.kind {
            Kind::Str { check: c, .. } => *c = Some(check),
            _ => panic!("check: not a string"),
        }
        self
    }

    const fn int_mut(&mut self) -> &mut Int {
        match &mut self.kind {
            Kind::Int(int) => int,
            _ => panic!("not an integer"),
        }
    }

    /// An integer the config file refuses outside `min..=max`.
    pub(super) const fn range(mut self, min: i128, max: i128, error: &'static str) -> Setting {
        self.int_mut().limit = Limit::Refuse { min, max, error };
        self
    }

    /// An integer the config file refuses below `min`.
    pub(super) const fn at_least(self, min: i128, error: &'static str) -> Setting {
        self.range(min, i128::MAX, error)
    }

    /// An integer kept within `min..=max`.
    pub(super) const fn clamp(mut self, min: i128, max: i128) -> Setting {
        self.int_mut().limit = Limit::Clamp { min, max };
        self
    }

    /// An integer `CONFIG SET` reads by `rule`.
    pub(super) const fn set_rule(mut self, rule: SetInt) -> Setting {
        self.int_mut().set = rule;
        self
    }

    /// An integer written as `show` says.
    pub(super) const fn show_as(mut self, show: Show) -> Setting {
        self.int_mut().show = show;
        self
    }

    /// Whether a directive with `n` values is well formed.
    pub(super) fn takes(&self, n: usize) -> bool {
        match &self.kind {
            Kind::Custom(custom) => (custom.values.0..=custom.values.1).contains(&n),
            _ => n == 1,
        }
    }

    /// Reads the values of a config file directive (already counted with
    /// [`Setting::takes`]) into `c`.
    pub(super) fn load(
        &self,
        c: &mut Config,
        values: &[Vec<u8>],
        opts: &LoadOptions<'_>,
    ) -> Result<(), DirectiveError> {
        let value = values.first().map_or(&[][..], |v| &v[..]);
        match &self.kind {
            Kind::Bool(field) => *(field.slot)(c) = yes_no(value).ok_or(BAD_BOOL)?,
            Kind::Str { field, check } => {
                let text = lossy(value);
                if let Some(check) = check {
                    check(&text).map_err(DirectiveError::Message)?;
                }
                *(field.slot)(c) = text;
            }
            Kind::Optional { field, max_len } => {
                if value.len() > *max_len {
                    return Err(PASSWORD_TOO_LONG.into());
                }
                (field.put)(c, (!value.is_empty()).then_some(value));
            }
            Kind::Keyword { field, error } => {
                if !(field.put)(c, value) {
                    return Err((*error).into());
                }
            }
            Kind::Int(int) => {
                let v = int.read.read(value);
                let v = match int.limit {
                    Limit::Any => v,
                    Limit::Clamp { min, max } => v.clamp(min, max),
                    Limit::Refuse { min, max, error } if !(min..=max).contains(&v) => {
                        return Err(error.into())
                    }
                    Limit::Refuse { .. } => v,
                };
                (int.field.put)(c, v);
            }
            Kind::Custom(custom) => return (custom.load)(c, values, opts),
        }
        Ok(())
    }

    /// The `CONFIG GET` value.
    pub(super) fn show(&self, c: &Config) -> Vec<u8> {
        match &self.kind {
            Kind::Bool(field) => yes_no_str(*(field.get)(c)).into(),
            Kind::Str { field, .. } => (field.get)(c).as_bytes().to_vec(),
            Kind::Optional { field, .. } => (field.get)(c).unwrap_or_default().to_vec(),
            Kind::Keyword { field, .. } => (field.get)(c).into(),
            Kind::Int(int) => {
                let v = (int.field.get)(c);
                match int.show {
                    Show::Octal => format!("{v:o}").into_bytes(),
                    Show::Flag => yes_no_str(v != 0).into(),
                    Show::Decimal | Show::Memory => v.to_string().into_bytes(),
                }
            }
            Kind::Custom(custom) => (custom.show)(c),
        }
    }

    /// Takes a `CONFIG SET` value into `c` (which is the configuration
    /// being built: on a refusal it is thrown away). Integers and custom
    /// settings have rules of their own; other values are read as in the
    /// config file.
    pub(super) fn assign(&self, c: &mut Config, value: &[u8]) -> Result<(), Refusal> {
        match &self.kind {
            Kind::Int(int) => {
                let v = match int.set {
                    SetInt::AtLeast(min) => disque_core::args::parse_i64(value)
                        .map(i128::from)
                        .filter(|v| *v >= min),
                    SetInt::Memory => match memtoll(value) {
                        (v, false) if v >= 0 => Some(i128::from(v)),
                        _ => None,
                    },
                    SetInt::YesNo => yes_no(value).map(i128::from),
                };
                let v = match (v, int.limit) {
                    (Some(v), Limit::Clamp { min, max }) => v.clamp(min, max),
                    (Some(v), Limit::Refuse { max, .. }) if v > max => {
                        return Err(Refusal::Invalid)
                    }
                    (Some(v), _) => v,
                    (None, _) => return Err(Refusal::Invalid),
                };
                (int.field.put)(c, v);
                Ok(())
            }
            Kind::Custom(custom) => custom.set.map_or(Err(Refusal::Invalid), |f| f(c, value)),
            // The load options only matter to custom settings.
            _ => self
                .load(c, &[value.to_vec()], &LoadOptions::default())
                .map_err(|_| Refusal::Invalid),
        }
    }

    /// The `CONFIG REWRITE` line, `None` when the setting has no value to
    /// write (its old lines are then removed). `cwd` is the working
    /// directory to write for `dir`.
    pub(super) fn line(&self, c: &Config, cwd: Option<&[u8]>) -> Option<Vec<u8>> {
        let mut line = self.name.as_bytes().to_vec();
        line.push(b' ');
        match &self.kind {
            Kind::Str { field, .. } => push_quoted(&mut line, (field.get)(c).as_bytes()),
            Kind::Optional { field, .. } => push_quoted(&mut line, (field.get)(c)?),
            Kind::Int(int) => {
                let v = (int.field.get)(c);
                let text = match (int.show, u64::try_from(v)) {
                    (Show::Octal, _) => format!("{v:o}"),
                    (Show::Memory, Ok(size)) => format_memory(size),
                    _ => v.to_string(),
                };
                line.extend_from_slice(text.as_bytes());
            }
            Kind::Custom(custom) => line.extend_from_slice(&(custom.line)(c, cwd)?),
            Kind::Bool(_) | Kind::Keyword { .. } => line.extend_from_slice(&self.show(c)),
        }
        Some(line)
    }
}

/// Every setting: the directives, then the others.
pub(super) fn all() -> impl Iterator<Item = &'static Setting> {
    DIRECTIVES.iter().chain(SET_ONLY)
}

fn named<'a>(mut settings: impl Iterator<Item = &'a Setting>, name: &[u8]) -> Option<&'a Setting> {
    settings.find(|s| name.eq_ignore_ascii_case(s.name.as_bytes()))
}

/// The directive called `name` (case-insensitively).
pub(super) fn directive(name: &[u8]) -> Option<&'static Setting> {
    named(DIRECTIVES.iter(), name)
}

/// The setting called `name` (case-insensitively).
pub(super) fn find(name: &[u8]) -> Option<&'static Setting> {
    named(all(), name)
}

/// The settings `CONFIG GET` knows, in the order it lists them.
pub(super) static GET_SETTINGS: LazyLock<Vec<&'static Setting>> = LazyLock::new(|| {
    let mut listed: Vec<&Setting> = all().filter(|s| s.get.is_some()).collect();
    listed.sort_by_key(|s| s.get);
    listed
});
