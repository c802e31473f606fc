//! The deadlines of spec §10.3: which ones a step starts or meets, and their configured lengths.

use std::{collections::HashMap, fmt, str::FromStr};

use koofill_config::{CalendarSpan, ConfigError, GoodsKind, SupervisionConfig};

use crate::state::{Action, CaseState};

/// One kind of deadline; a case has at most one row of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineKind {
    /// The buyer must submit the requirement within 1 month of payment.
    Requirement,
    /// The buyer must provide the materials within 1 month of the start of delivery.
    Materials,
    /// The buyer must give feedback within 3 months of the delivery.
    Feedback,
    /// The order must show 已完成 within 3 hours of acceptance.
    Completion,
    /// Hardware: auto-accepted 10 days after the courier's sign-off.
    HardwareAcceptance,
    /// Hardware: the buyer may appeal when the flow stays 5 days at the seller.
    SellerAction,
    /// Reminders for orders not accepted 180 days after payment.
    Unaccepted,
}

/// Every kind.
pub const KINDS: [DeadlineKind; 7] = [
    DeadlineKind::Requirement,
    DeadlineKind::Materials,
    DeadlineKind::Feedback,
    DeadlineKind::Completion,
    DeadlineKind::HardwareAcceptance,
    DeadlineKind::SellerAction,
    DeadlineKind::Unaccepted,
];

impl DeadlineKind {
    /// The stored text, also the configuration key under `[supervision.deadlines]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requirement => "requirement",
            Self::Materials => "materials",
            Self::Feedback => "feedback",
            Self::Completion => "completion",
            Self::HardwareAcceptance => "hardware_acceptance",
            Self::SellerAction => "seller_action",
            Self::Unaccepted => "unaccepted",
        }
    }
}

impl fmt::Display for DeadlineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeadlineKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        KINDS.into_iter().find(|k| k.as_str() == text).ok_or_else(|| format!("unknown deadline kind {text:?}"))
    }
}

/// What a step does to one deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Start (or restart) its clock.
    Start(DeadlineKind),
    /// What it waited for happened.
    Meet(DeadlineKind),
    /// Every open deadline stops (an appeal).
    PauseAll,
    /// Every paused deadline resumes with the time it had left.
    ResumeAll,
    /// Every open deadline ends, recorded as met (supervision is over: completed, or closed by a
    /// release). Nothing is awaited any more, so none may remind or breach afterwards; the case's
    /// steps say which way it ended.
    MeetAll,
}

/// The deadlines a new case starts with.
pub fn on_open(goods: GoodsKind) -> Vec<Effect> {
    let mut effects = vec![Effect::Start(DeadlineKind::Unaccepted)];
    if goods == GoodsKind::Hardware {
        // The buyer gave the address at purchase: the flow is at the seller from the start.
        effects.push(Effect::Start(DeadlineKind::SellerAction));
    } else {
        effects.push(Effect::Start(DeadlineKind::Requirement));
    }
    effects
}

/// The deadlines a step from `from` to `to` starts and meets.
pub fn on_step(goods: GoodsKind, action: Action, from: CaseState, to: CaseState) -> Vec<Effect> {
    use DeadlineKind as K;
    use Effect::{Meet, Start};
    let hardware = goods == GoodsKind::Hardware;
    match (action, to) {
        (Action::Appeal, _) => vec![Effect::PauseAll],
        (Action::Resolve, _) => vec![Effect::ResumeAll],
        (_, CaseState::RequirementConfirmed | CaseState::RequirementRejected) => vec![Meet(K::Requirement)],
        (_, CaseState::Delivering) => {
            let mut effects = Vec::new();
            if from == CaseState::Delivered {
                // The buyer rejected the delivery: that was the feedback.
                effects.extend([Meet(K::Feedback), Meet(K::HardwareAcceptance)]);
            }
            effects.push(Start(if hardware { K::SellerAction } else { K::Materials }));
            effects
        }
        (_, CaseState::Delivered) => {
            let mut effects = vec![Meet(K::Requirement), Meet(K::Materials), Meet(K::SellerAction), Start(K::Feedback)];
            if hardware {
                effects.push(Start(K::HardwareAcceptance));
            }
            effects
        }
        (_, CaseState::Accepted) => {
            vec![Meet(K::Feedback), Meet(K::HardwareAcceptance), Meet(K::Unaccepted), Start(K::Completion)]
        }
        (_, CaseState::Completed | CaseState::Closed) => vec![Effect::MeetAll],
        _ => Vec::new(),
    }
}

/// The configuration the worker acts on, parsed once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Which goods are supervised.
    pub config: SupervisionConfig,
    spans: HashMap<DeadlineKind, (CalendarSpan, Vec<CalendarSpan>)>,
}

impl Settings {
    /// Parses the deadlines of `[supervision]`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the deadline key at fault.
    pub fn new(config: &SupervisionConfig) -> Result<Self, ConfigError> {
        let mut spans = HashMap::new();
        for (kind, (key, deadline)) in KINDS.into_iter().zip(config.deadlines.all()) {
            debug_assert!(key.ends_with(kind.as_str()));
            spans.insert(kind, deadline.spans(key)?);
        }
        Ok(Self { config: config.clone(), spans })
    }

    /// How long `kind` runs, and its reminder thresholds, longest first.
    pub fn deadline(&self, kind: DeadlineKind) -> (CalendarSpan, Vec<CalendarSpan>) {
        self.spans.get(&kind).cloned().unwrap_or_else(|| {
            // `new` fills every kind; this keeps the lookup total.
            (CalendarSpan { amount: 1, unit: koofill_config::SpanUnit::Months }, Vec::new())
        })
    }

    /// Buyer rejections after which `supervision.rejections_exceeded` is emitted.
    pub fn max_rejections(&self) -> i64 {
        i64::from(self.config.max_rejections)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_spec_durations() {
        let settings = Settings::new(&SupervisionConfig::default()).unwrap();
        let after = |k| settings.deadline(k).0.to_string();
        assert_eq!(after(DeadlineKind::Requirement), "1 month");
        assert_eq!(after(DeadlineKind::Materials), "1 month");
        assert_eq!(after(DeadlineKind::Feedback), "3 months");
        assert_eq!(after(DeadlineKind::Completion), "3 hours");
        assert_eq!(after(DeadlineKind::HardwareAcceptance), "10 days");
        assert_eq!(after(DeadlineKind::SellerAction), "5 days");
        assert_eq!(after(DeadlineKind::Unaccepted), "180 days");
        assert_eq!(settings.max_rejections(), 3);
    }

    #[test]
    fn a_buyer_rejection_meets_feedback_and_restarts_the_delivery_clock() {
        let effects = on_step(GoodsKind::ManualService, Action::Reject, CaseState::Delivered, CaseState::Delivering);
        assert!(effects.contains(&Effect::Meet(DeadlineKind::Feedback)));
        assert!(effects.contains(&Effect::Start(DeadlineKind::Materials)));
    }

    #[test]
    fn a_release_ends_every_deadline_even_a_frozen_one() {
        for from in [CaseState::Delivering, CaseState::Appealed] {
            assert_eq!(on_step(GoodsKind::Hardware, Action::Release, from, CaseState::Closed), [Effect::MeetAll]);
        }
    }
}
