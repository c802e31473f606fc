//! The SaaS purchase scenarios (spec §1): period, one-time, on-demand, on-demand package,
//! trial → formal, renewal, unsubscribe, upgrade.

use chrono::{DateTime, Months, Utc};
use koofill_model::order::{ChargingMode, OrderType};
use koofill_model::time::{format_compact14, format_compact17};
use rand::Rng;

use super::runner::{OK, Run, Via};
use super::usage_check;
use crate::bodies;
use crate::market::InstanceStatus;
use crate::orders::{
    MONTHLY_BASIC, MONTHLY_PRO, ON_DEMAND_ITEMS, OrderSpec, PRODUCT_DAILY_TRIAL, PRODUCT_ONE_TIME, PRODUCT_PACKAGE,
    Product, SKU_BASIC, YEARLY_BASIC,
};
use crate::report::{Outcome, ScenarioReport};

const ONE_TIME: Product = (PRODUCT_ONE_TIME, SKU_BASIC, 1, "MOCK测试商品,测试规格,基础版,按次");
const PACKAGE: Product = (PRODUCT_PACKAGE, SKU_BASIC, 100, "MOCK测试商品,测试规格,按需套餐包,100次");
const TRIAL: Product = (PRODUCT_DAILY_TRIAL, SKU_BASIC, 50, "MOCK测试商品,测试规格,基础版,试用");

/// An order of the scenario: a fresh ID when the marketplace takes registrations, else `mock`.
fn order(
    run: &mut Run<'_>,
    mock: &str,
    order_type: OrderType,
    mode: ChargingMode,
    period: Option<(&'static str, i64)>,
    expire: Option<DateTime<Utc>>,
    products: Vec<Product>,
) -> OrderSpec {
    let order_id = if run.registry.is_off() { mock.to_owned() } else { run.fresh_order_id() };
    let amount = match order_type {
        OrderType::Unsubscribe => ("", "-10"),
        OrderType::Trial => ("0", "0"),
        _ => ("10", "10"),
    };
    OrderSpec {
        order_id,
        order_type,
        charging_mode: mode,
        period,
        create_time: Utc::now(),
        expire_time: expire,
        products,
        amount,
    }
}

/// The end of the day `months` months from now, as KooGallery dates expiries (`…235959`).
fn months_ahead(from: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    let day = from.checked_add_months(Months::new(months)).unwrap_or(from);
    day.date_naive().and_hms_opt(23, 59, 59).map_or(day, |t| t.and_utc())
}

/// An `expireTime` as the debugger sends it: the documented 14 digits, or (at random, seeded) the
/// 17 digits of the spec's own example.
fn expire_text(run: &mut Run<'_>, at: DateTime<Utc>) -> String {
    if run.rng.gen_bool(0.5) { format_compact14(at) } else { format_compact17(at) }
}

/// Opens the order's instance and polls it until ready.
async fn open_and_wait(run: &mut Run<'_>, spec: &OrderSpec) -> Option<String> {
    run.register_order(spec).await;
    let id = run.open(spec, spec.charging_mode.clone()).await?;
    run.poll_ready(&id).await;
    Some(id)
}

async fn release(run: &mut Run<'_>, id: &str, order: Option<(&str, &str)>) {
    let test = run.test();
    if run.call("releaseInstance", Via::Basic, OK, || bodies::release_instance(id, order, test)).await.is_some() {
        run.mark(id, InstanceStatus::Released, "released").await;
    }
    // Releasing a released instance succeeds (spec §1.7).
    run.call("releaseInstance (again)", Via::Basic, OK, || bodies::release_instance(id, order, test)).await;
}

async fn refresh(
    run: &mut Run<'_>,
    id: &str,
    spec: &OrderSpec,
    scene: &str,
    product: Option<&str>,
    expire: DateTime<Utc>,
) -> bool {
    run.register_order(spec).await;
    let (order_id, line, test) = (spec.order_id.clone(), spec.line_id(), run.test());
    let expire = expire_text(run, expire);
    let name = format!("refreshInstance {scene}");
    run.call_maybe_twice(&name, Via::Basic, || {
        bodies::refresh_instance(id, &order_id, &line, scene, product, &expire, test)
    })
    .await
}

/// New yearly order: create, query, freeze on expiry (twice: idempotent), unfreeze, release.
pub(super) async fn period(mut run: Run<'_>) -> ScenarioReport {
    let now = Utc::now();
    let spec = order(
        &mut run,
        "MOCKPERIODYEARNEW",
        OrderType::New,
        ChargingMode::Period,
        Some(("year", 1)),
        Some(months_ahead(now, 12)),
        vec![YEARLY_BASIC],
    );
    let Some(id) = open_and_wait(&mut run, &spec).await else { return run.finish() };
    let test = run.test();
    if run
        .call("updateInstanceStatus FREEZE", Via::Basic, OK, || bodies::update_instance_status(&id, "FREEZE", test))
        .await
        .is_some()
    {
        run.mark(&id, InstanceStatus::Frozen, "frozen").await;
    }
    run.call("updateInstanceStatus FREEZE (again)", Via::Basic, OK, || {
        bodies::update_instance_status(&id, "FREEZE", test)
    })
    .await;
    if run
        .call_maybe_twice("updateInstanceStatus UNFREEZE", Via::Basic, || {
            bodies::update_instance_status(&id, "UNFREEZE", test)
        })
        .await
    {
        run.mark(&id, InstanceStatus::Normal, "active").await;
    }
    release(&mut run, &id, None).await;
    run.finish()
}

/// New one-time order: create, query, release (no refresh or status calls for one-time goods).
pub(super) async fn one_time(mut run: Run<'_>) -> ScenarioReport {
    let spec = order(&mut run, "MOCKONETIMENEW", OrderType::New, ChargingMode::OneTime, None, None, vec![ONE_TIME]);
    let Some(id) = open_and_wait(&mut run, &spec).await else { return run.finish() };
    release(&mut run, &id, None).await;
    run.finish()
}

/// New on-demand order with two billing items: create, query, usage reported and pushed (with a
/// usage probe), freeze for arrears, unfreeze, release.
pub(super) async fn on_demand(mut run: Run<'_>) -> ScenarioReport {
    let mut spec =
        order(&mut run, "MOCKONDEMAND", OrderType::New, ChargingMode::OnDemand, None, None, ON_DEMAND_ITEMS.to_vec());
    if run.options.usage.is_some() {
        // The rehearsal's usage falls in an hour that has ended; the resource must predate it.
        spec.create_time -= usage_check::ORDER_AGE;
    }
    let Some(id) = open_and_wait(&mut run, &spec).await else { return run.finish() };
    usage_check::rehearse(&mut run, &id).await;
    let test = run.test();
    if run
        .call("updateInstanceStatus FREEZE (arrears)", Via::Basic, OK, || {
            bodies::update_instance_status(&id, "FREEZE", test)
        })
        .await
        .is_some()
    {
        run.mark(&id, InstanceStatus::Frozen, "frozen").await;
    }
    if run
        .call_maybe_twice("updateInstanceStatus UNFREEZE (topped up)", Via::Basic, || {
            bodies::update_instance_status(&id, "UNFREEZE", test)
        })
        .await
    {
        run.mark(&id, InstanceStatus::Normal, "active").await;
    }
    release(&mut run, &id, None).await;
    run.finish()
}

/// New on-demand package: create, query, release.
pub(super) async fn on_demand_package(mut run: Run<'_>) -> ScenarioReport {
    let spec = order(
        &mut run,
        "MOCKONDEMANDPKG",
        OrderType::New,
        ChargingMode::OnDemandPkg,
        Some(("month", 1)),
        Some(months_ahead(Utc::now(), 1)),
        vec![PACKAGE],
    );
    let Some(id) = open_and_wait(&mut run, &spec).await else { return run.finish() };
    release(&mut run, &id, None).await;
    run.finish()
}

/// A 7-day trial, converted to a monthly order (refreshInstance TRIAL_TO_FORMAL with the monthly
/// product).
pub(super) async fn trial_to_formal(mut run: Run<'_>) -> ScenarioReport {
    let now = Utc::now();
    let trial_end = now + chrono::Duration::days(7);
    let trial = order(
        &mut run,
        "MOCKPERIODDAYTRIAL",
        OrderType::Trial,
        ChargingMode::Period,
        Some(("day", 7)),
        Some(trial_end),
        vec![TRIAL],
    );
    let Some(id) = open_and_wait(&mut run, &trial).await else { return run.finish() };
    let formal_end = months_ahead(trial_end, 1);
    let formal = order(
        &mut run,
        "MOCKMONTYTRIALTOFORMAL",
        OrderType::TrialToFormal,
        ChargingMode::Period,
        Some(("month", 1)),
        Some(formal_end),
        vec![MONTHLY_BASIC],
    );
    if refresh(&mut run, &id, &formal, "TRIAL_TO_FORMAL", Some(MONTHLY_BASIC.0), formal_end).await {
        run.report.state = format!("formal until {}", format_compact14(formal_end));
    }
    run.finish()
}

/// A monthly order renewed for a year (refreshInstance RENEWAL; the period type changes, so does
/// the product).
pub(super) async fn renewal(mut run: Run<'_>) -> ScenarioReport {
    let first_end = months_ahead(Utc::now(), 1);
    let spec = order(
        &mut run,
        "MOCKPERIODYEARNEW",
        OrderType::New,
        ChargingMode::Period,
        Some(("month", 1)),
        Some(first_end),
        vec![MONTHLY_BASIC],
    );
    let Some(id) = open_and_wait(&mut run, &spec).await else { return run.finish() };
    let renewed_end = months_ahead(first_end, 12);
    let renew = order(
        &mut run,
        "MOCKMONTYRENEW",
        OrderType::Renew,
        ChargingMode::Period,
        Some(("year", 1)),
        Some(renewed_end),
        vec![YEARLY_BASIC],
    );
    if refresh(&mut run, &id, &renew, "RENEWAL", Some(YEARLY_BASIC.0), renewed_end).await {
        run.report.state = format!("renewed until {}", format_compact14(renewed_end));
    }
    run.finish()
}

/// A monthly order renewed, the renewal period unsubscribed (退续费: expiry set back), then the
/// order unsubscribed and the instance released with the unsubscribe order.
pub(super) async fn unsubscribe(mut run: Run<'_>) -> ScenarioReport {
    let first_end = months_ahead(Utc::now(), 1);
    let spec = order(
        &mut run,
        "MOCKPERIODYEARNEW",
        OrderType::New,
        ChargingMode::Period,
        Some(("month", 1)),
        Some(first_end),
        vec![MONTHLY_BASIC],
    );
    let Some(id) = open_and_wait(&mut run, &spec).await else { return run.finish() };
    let renewed_end = months_ahead(first_end, 1);
    let renew = order(
        &mut run,
        "MOCKMONTYRENEW",
        OrderType::Renew,
        ChargingMode::Period,
        Some(("month", 1)),
        Some(renewed_end),
        vec![MONTHLY_BASIC],
    );
    refresh(&mut run, &id, &renew, "RENEWAL", None, renewed_end).await;
    let back = order(
        &mut run,
        "MOCKMONTYUNSUBSCRIBE",
        OrderType::Unsubscribe,
        ChargingMode::Period,
        Some(("month", 1)),
        Some(first_end),
        vec![MONTHLY_BASIC],
    );
    refresh(&mut run, &id, &back, "UNSUBSCRIBE_RENEWAL_PERIOD", None, first_end).await;
    let gone = order(
        &mut run,
        "MOCKMONTYUNSUBSCRIBE",
        OrderType::Unsubscribe,
        ChargingMode::Period,
        Some(("month", 1)),
        Some(Utc::now()),
        vec![MONTHLY_BASIC],
    );
    run.register_order(&gone).await;
    let line = gone.line_id();
    release(&mut run, &id, Some((&gone.order_id, &line))).await;
    run.finish()
}

/// changeInstanceCheck for the professional spec, upgradeInstance with the CHANGE order, then a
/// renewal with change (changeInstanceCheck, refreshInstance RENEWAL_CHANGE), then release.
pub(super) async fn upgrade(mut run: Run<'_>) -> ScenarioReport {
    let end = months_ahead(Utc::now(), 1);
    let spec = order(
        &mut run,
        "MOCKPERIODYEARNEW",
        OrderType::New,
        ChargingMode::Period,
        Some(("month", 1)),
        Some(end),
        vec![MONTHLY_BASIC],
    );
    let Some(id) = open_and_wait(&mut run, &spec).await else { return run.finish() };
    let test = run.test();
    let allowed = &["000000", "000002"];
    let Some(check) = run
        .call("changeInstanceCheck (to professional)", Via::Basic, allowed, || {
            bodies::change_instance_check(&id, &MONTHLY_PRO, test)
        })
        .await
    else {
        return run.finish();
    };
    if check.result_code() == "000002" {
        let detail = format!("the seller refuses the change: {}", check.result_msg());
        if let Some(step) = run.report.steps.last_mut() {
            step.outcome = Outcome::Warned;
            step.detail = detail;
        }
    } else {
        let change = order(
            &mut run,
            "MOCKMONTYCHANGE",
            OrderType::Change,
            ChargingMode::Period,
            Some(("month", 1)),
            Some(end),
            vec![MONTHLY_PRO],
        );
        run.register_order(&change).await;
        let (order_id, line) = (change.order_id.clone(), change.line_id());
        if run
            .call_maybe_twice("upgradeInstance", Via::Basic, || bodies::upgrade_instance(&id, &order_id, &line, test))
            .await
        {
            run.report.state = "upgraded".to_owned();
        }
        let renewed_end = months_ahead(end, 1);
        let renew = order(
            &mut run,
            "MOCKMONTYRENEW",
            OrderType::Renew,
            ChargingMode::Period,
            Some(("month", 1)),
            Some(renewed_end),
            vec![MONTHLY_PRO],
        );
        run.call("changeInstanceCheck (renewal with change)", Via::Basic, OK, || {
            bodies::change_instance_check(&id, &MONTHLY_PRO, test)
        })
        .await;
        refresh(&mut run, &id, &renew, "RENEWAL_CHANGE", Some(MONTHLY_PRO.0), renewed_end).await;
    }
    release(&mut run, &id, None).await;
    run.finish()
}
