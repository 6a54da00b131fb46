//! Who may read and write what. A caller reads as one [`Audience`]: anonymous callers published
//! public articles, contacts also published signed-in ones, staff and services everything
//! including drafts. The same rule serves the SQL filters and the search index (which stores, per
//! article, the audiences that may see it), so the two cannot disagree.

use helpdesk_kit::auth::Caller;

use super::{KbError, invalid};

/// `kb.v1.ArticleStatus`; stored as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Draft = 1,
    Published = 2,
}

/// `kb.v1.Visibility`; stored as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public = 1,
    SignedIn = 2,
    Internal = 3,
}

impl Status {
    /// Unspecified (0) means the default, published; unknown numbers are refused.
    pub fn from_number(n: i32) -> Result<Option<Self>, KbError> {
        match n {
            0 => Ok(None),
            1 => Ok(Some(Self::Draft)),
            2 => Ok(Some(Self::Published)),
            _ => Err(invalid("status", "must be draft or published")),
        }
    }

    pub fn from_stored(n: i16) -> Self {
        if n == Self::Draft as i16 { Self::Draft } else { Self::Published }
    }
}

impl Visibility {
    /// Unspecified (0) means the default, public; unknown numbers are refused.
    pub fn from_number(n: i32) -> Result<Option<Self>, KbError> {
        match n {
            0 => Ok(None),
            1 => Ok(Some(Self::Public)),
            2 => Ok(Some(Self::SignedIn)),
            3 => Ok(Some(Self::Internal)),
            _ => Err(invalid("visibility", "must be public, signed_in or internal")),
        }
    }

    pub fn from_stored(n: i16) -> Self {
        match n {
            1 => Self::Public,
            2 => Self::SignedIn,
            _ => Self::Internal,
        }
    }
}

/// The readers an article is for, from the narrowest to the widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Audience {
    Anonymous,
    Contact,
    Staff,
}

impl Audience {
    pub const ALL: [Audience; 3] = [Audience::Anonymous, Audience::Contact, Audience::Staff];

    pub fn of(caller: &Caller) -> Self {
        match caller {
            Caller::Anonymous => Self::Anonymous,
            Caller::Contact { .. } => Self::Contact,
            Caller::Staff { .. } | Caller::Service { .. } => Self::Staff,
        }
    }

    pub fn may_read(self, status: Status, visibility: Visibility) -> bool {
        match self {
            Self::Staff => true,
            Self::Contact => status == Status::Published && visibility != Visibility::Internal,
            Self::Anonymous => status == Status::Published && visibility == Visibility::Public,
        }
    }

    /// The audiences that may read an article in this state (what the index stores).
    pub fn readers(status: Status, visibility: Visibility) -> impl Iterator<Item = Audience> {
        Self::ALL.into_iter().filter(move |a| a.may_read(status, visibility))
    }

    /// The statuses and visibilities this audience reads, for SQL filters.
    pub fn readable(self) -> (Vec<i16>, Vec<i16>) {
        let statuses = [Status::Draft, Status::Published];
        let visibilities = [Visibility::Public, Visibility::SignedIn, Visibility::Internal];
        let statuses = statuses.iter().filter(|s| visibilities.iter().any(|v| self.may_read(**s, *v)));
        let visibilities = visibilities.iter().filter(|v| self.may_read(Status::Published, **v));
        (statuses.map(|s| *s as i16).collect(), visibilities.map(|v| *v as i16).collect())
    }

    /// The token the search index stores for this audience.
    pub fn token(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Contact => "contact",
            Self::Staff => "staff",
        }
    }
}

pub fn may_write(caller: &Caller) -> Result<(), KbError> {
    match caller {
        Caller::Anonymous => Err(KbError::Unauthenticated),
        Caller::Contact { .. } => Err(KbError::PermissionDenied),
        Caller::Staff { .. } | Caller::Service { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn readers(status: Status, visibility: Visibility) -> Vec<Audience> {
        Audience::readers(status, visibility).collect()
    }

    #[test]
    fn each_caller_reads_only_what_its_kind_may() {
        use Audience::*;
        assert_eq!(readers(Status::Published, Visibility::Public), vec![Anonymous, Contact, Staff]);
        assert_eq!(readers(Status::Published, Visibility::SignedIn), vec![Contact, Staff]);
        assert_eq!(readers(Status::Published, Visibility::Internal), vec![Staff]);
        assert_eq!(readers(Status::Draft, Visibility::Public), vec![Staff]);
    }

    #[test]
    fn sql_filters_agree_with_the_rule() {
        assert_eq!(Audience::Anonymous.readable(), (vec![2], vec![1]));
        assert_eq!(Audience::Contact.readable(), (vec![2], vec![1, 2]));
        assert_eq!(Audience::Staff.readable(), (vec![1, 2], vec![1, 2, 3]));
    }

    #[test]
    fn callers_map_to_audiences() {
        assert_eq!(Audience::of(&Caller::Anonymous), Audience::Anonymous);
        assert_eq!(Audience::of(&Caller::Contact { id: Uuid::new_v4() }), Audience::Contact);
        assert_eq!(Audience::of(&Caller::Service { name: "cli".into() }), Audience::Staff);
    }

    #[test]
    fn only_staff_and_services_write() {
        assert!(matches!(may_write(&Caller::Anonymous), Err(KbError::Unauthenticated)));
        assert!(matches!(may_write(&Caller::Contact { id: Uuid::new_v4() }), Err(KbError::PermissionDenied)));
        assert!(may_write(&Caller::Service { name: "cli".into() }).is_ok());
    }

    #[test]
    fn unknown_enum_numbers_are_refused_and_zero_means_default() {
        assert!(matches!(Status::from_number(0), Ok(None)));
        assert!(Status::from_number(7).is_err());
        assert!(matches!(Visibility::from_number(2), Ok(Some(Visibility::SignedIn))));
        assert!(Visibility::from_number(-1).is_err());
    }
}
