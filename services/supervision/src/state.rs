//! The case state machine of spec §10.2 and the actions that move it.

use std::{fmt, str::FromStr};

/// Where a supervision case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseState {
    /// Paid; waiting for the buyer's requirement (提交需求) and the seller's answer.
    AwaitingRequirement,
    /// The seller confirmed the requirement (确认需求).
    RequirementConfirmed,
    /// The seller sent the requirement back to the buyer (驳回需求).
    RequirementRejected,
    /// The seller is delivering (开通交付), or the buyer rejected a delivery.
    Delivering,
    /// The seller reported the service completed with its proof (反馈服务已完成); the buyer must accept.
    Delivered,
    /// The buyer accepted (确认验收); the order must show 已完成 within 3 hours.
    Accepted,
    /// The order shows 已完成: supervision is over and the order can be settled.
    Completed,
    /// An appeal (申诉) froze the flow and every timer.
    Appealed,
    /// The order was released (unsubscribed, 退订, or expired) before supervision completed:
    /// supervision ended without completion, and nothing will settle.
    Closed,
}

const STATES: [CaseState; 9] = [
    CaseState::AwaitingRequirement,
    CaseState::RequirementConfirmed,
    CaseState::RequirementRejected,
    CaseState::Delivering,
    CaseState::Delivered,
    CaseState::Accepted,
    CaseState::Completed,
    CaseState::Appealed,
    CaseState::Closed,
];

impl CaseState {
    /// The stored text: `awaiting_requirement`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingRequirement => "awaiting_requirement",
            Self::RequirementConfirmed => "requirement_confirmed",
            Self::RequirementRejected => "requirement_rejected",
            Self::Delivering => "delivering",
            Self::Delivered => "delivered",
            Self::Accepted => "accepted",
            Self::Completed => "completed",
            Self::Appealed => "appealed",
            Self::Closed => "closed",
        }
    }

    /// Whether supervision is over: completed (the order settles) or closed (it never will).
    /// No step leaves these states.
    pub fn is_over(self) -> bool {
        matches!(self, Self::Completed | Self::Closed)
    }

    /// Whether the license activation passes this state's node (everything before delivery).
    pub fn before_delivery(self) -> bool {
        matches!(
            self,
            Self::AwaitingRequirement | Self::RequirementConfirmed | Self::RequirementRejected | Self::Delivering
        )
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        STATES.into_iter().find(|s| s.as_str() == text).ok_or_else(|| {
            let known: Vec<_> = STATES.iter().map(|s| s.as_str()).collect();
            format!("unknown case state {text:?} (one of {})", known.join(", "))
        })
    }
}

/// Something that happens to a case: an operator's action, the license activation, or the
/// release of the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The seller confirmed the buyer's requirement.
    Confirm,
    /// The seller rejected the requirement, or the buyer rejected the delivery.
    Reject,
    /// The seller started delivering.
    Deliver,
    /// The seller reported the service completed (from `delivering`), or the order shows 已完成
    /// (from `accepted`).
    Complete,
    /// The buyer accepted the delivery.
    Accept,
    /// Someone appealed; every timer stops.
    Appeal,
    /// The appeal was resolved; the case returns where it was and the timers resume.
    Resolve,
    /// The license code was activated through KooGallery's open API: the node passes by itself.
    LicenseActivated,
    /// The order's instance or license code was released: the case closes, whatever its step.
    Release,
}

/// The actions operators take (the license activation and the release are koofill's own).
pub const OPERATOR_ACTIONS: [Action; 7] = [
    Action::Confirm,
    Action::Reject,
    Action::Deliver,
    Action::Complete,
    Action::Accept,
    Action::Appeal,
    Action::Resolve,
];

impl Action {
    /// The text used on the command line, in the API and in the step records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Reject => "reject",
            Self::Deliver => "deliver",
            Self::Complete => "complete",
            Self::Accept => "accept",
            Self::Appeal => "appeal",
            Self::Resolve => "resolve",
            Self::LicenseActivated => "license_activated",
            Self::Release => "release",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;

    /// Operator actions only.
    fn from_str(text: &str) -> Result<Self, String> {
        OPERATOR_ACTIONS.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
            let known: Vec<_> = OPERATOR_ACTIONS.iter().map(|a| a.as_str()).collect();
            format!("unknown action {text:?} (one of {})", known.join(", "))
        })
    }
}

/// An action the case's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a case in state {state}{}", allowed_hint(*.state))]
pub struct InvalidTransition {
    /// What was asked.
    pub action: Action,
    /// Where the case stands.
    pub state: CaseState,
}

fn allowed_hint(state: CaseState) -> String {
    let allowed: Vec<&str> = OPERATOR_ACTIONS
        .into_iter()
        .filter(|a| next(state, *a, Some(CaseState::AwaitingRequirement)).is_ok())
        .map(Action::as_str)
        .collect();
    if allowed.is_empty() { " (supervision is over)".to_owned() } else { format!(" (allowed: {})", allowed.join(", ")) }
}

/// The state `action` leads to from `state`; `before_appeal` is where a resolution returns.
///
/// # Errors
/// [`InvalidTransition`] when the state does not allow the action.
pub fn next(
    state: CaseState,
    action: Action,
    before_appeal: Option<CaseState>,
) -> Result<CaseState, InvalidTransition> {
    use Action as A;
    use CaseState as S;
    let to = match (action, state) {
        (A::Confirm, S::AwaitingRequirement | S::RequirementRejected) => Some(S::RequirementConfirmed),
        (A::Reject, S::AwaitingRequirement) => Some(S::RequirementRejected),
        (A::Reject, S::Delivered) => Some(S::Delivering),
        (A::Deliver, S::RequirementConfirmed) => Some(S::Delivering),
        (A::Complete, S::Delivering) => Some(S::Delivered),
        (A::Complete, S::Accepted) => Some(S::Completed),
        (A::Accept, S::Delivered) => Some(S::Accepted),
        (A::Appeal, s) if !s.is_over() && s != S::Appealed => Some(S::Appealed),
        (A::Resolve, S::Appealed) => before_appeal,
        (A::LicenseActivated, s) if s.before_delivery() => Some(S::Delivered),
        // An appealed case closes too: with the order gone there is nothing left to appeal for.
        (A::Release, s) if !s.is_over() => Some(S::Closed),
        _ => None,
    };
    to.ok_or(InvalidTransition { action, state })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_service_path_reaches_completed() {
        let mut state = CaseState::AwaitingRequirement;
        for action in [Action::Confirm, Action::Deliver, Action::Complete, Action::Accept, Action::Complete] {
            state = next(state, action, None).unwrap();
        }
        assert_eq!(state, CaseState::Completed);
    }

    #[test]
    fn refusals_name_the_state_and_what_is_allowed() {
        let err = next(CaseState::RequirementConfirmed, Action::Accept, None).unwrap_err();
        assert_eq!(err.to_string(), "cannot accept a case in state requirement_confirmed (allowed: deliver, appeal)");
        let err = next(CaseState::Completed, Action::Appeal, None).unwrap_err();
        assert_eq!(err.to_string(), "cannot appeal a case in state completed (supervision is over)");
        let err = next(CaseState::Closed, Action::Confirm, None).unwrap_err();
        assert_eq!(err.to_string(), "cannot confirm a case in state closed (supervision is over)");
    }

    #[test]
    fn a_release_closes_every_case_not_over_and_nothing_leaves_closed() {
        for state in STATES {
            let closed = next(state, Action::Release, Some(CaseState::Delivering));
            if state.is_over() {
                assert_eq!(closed, Err(InvalidTransition { action: Action::Release, state }));
            } else {
                assert_eq!(closed, Ok(CaseState::Closed), "from {state}");
            }
        }
        for action in OPERATOR_ACTIONS.into_iter().chain([Action::LicenseActivated]) {
            assert!(next(CaseState::Closed, action, Some(CaseState::Delivering)).is_err(), "{action}");
        }
        assert!("release".parse::<Action>().is_err(), "operators cannot release");
    }

    #[test]
    fn a_resolution_returns_where_the_appeal_started() {
        let appealed = next(CaseState::Delivered, Action::Appeal, None).unwrap();
        assert_eq!(next(appealed, Action::Resolve, Some(CaseState::Delivered)), Ok(CaseState::Delivered));
        assert!(next(appealed, Action::Accept, Some(CaseState::Delivered)).is_err());
    }

    #[test]
    fn states_round_trip_through_their_text() {
        for state in STATES {
            assert_eq!(state.as_str().parse::<CaseState>(), Ok(state));
        }
        assert!("opening".parse::<CaseState>().unwrap_err().contains("awaiting_requirement"));
    }
}
