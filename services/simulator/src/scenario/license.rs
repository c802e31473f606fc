//! License 2.0 (spec §7): KooGallery issues a license code, the buyer claims it, then the seller's
//! production address is told of renewal (refreshLicenseCode), expiry (updateLicenseCodeStatus
//! FREEZE / UNFREEZE) and release (releaseLicenseCode). The marketplace's record of the code
//! follows, so the activation and heartbeat APIs answer accordingly. With koofill's activation
//! proxy given ([`super::ScenarioOptions::license_proxy`]), the code is activated through it after
//! the renewal, and every callback's effect (status, expiry) is checked there.

use chrono::Utc;
use koofill_model::order::{ChargingMode, OrderType};
use koofill_model::time::format_compact14;

use super::license_check::{activate, expect};
use super::runner::{OK, Run, Via};
use crate::bodies;
use crate::license::{LicenseState, SimLicense};
use crate::orders::{OrderSpec, YEARLY_BASIC};
use crate::report::{Outcome, ScenarioReport};

/// The license product.
const PRODUCT: &str = "OFFI846204237451911180";

fn license_order(run: &mut Run<'_>, order_type: OrderType, months: u32) -> OrderSpec {
    let now = Utc::now();
    let order_id = if run.registry.is_off() { "MOCKPERIODYEARNEW".to_owned() } else { run.fresh_order_id() };
    OrderSpec {
        order_id,
        order_type,
        charging_mode: ChargingMode::Period,
        period: Some(("year", 1)),
        create_time: now,
        expire_time: now.checked_add_months(chrono::Months::new(months)),
        products: vec![(PRODUCT, YEARLY_BASIC.1, 1, "MOCK测试商品,授权码,基础版,包年")],
        amount: ("100", "100"),
    }
}

async fn update(run: &mut Run<'_>, license: &mut SimLicense, change: impl FnOnce(&mut SimLicense)) {
    change(license);
    if let Err(e) = run.registry.license(license).await {
        run.step("update the license code in the marketplace", Outcome::Failed, e.to_string(), 1, Default::default());
    }
}

pub(super) async fn license(mut run: Run<'_>) -> ScenarioReport {
    let new = license_order(&mut run, OrderType::New, 12);
    run.register_order(&new).await;
    let code = format!("PL{}", &run.fresh_order_id()[2..]);
    let mut license = SimLicense::received(code.clone(), new.order_id.clone(), PRODUCT);
    if let Some(expire) = new.expire_time {
        license.expire_time = expire;
    }
    update(&mut run, &mut license, |_| {}).await;
    run.report.instance_ids.push(code.clone());
    run.report.state = "received".to_owned();
    let test = run.test();

    let renew = license_order(&mut run, OrderType::Renew, 24);
    run.register_order(&renew).await;
    let expire = renew.expire_time.unwrap_or_else(Utc::now);
    let (order_id, line, expire_text) = (renew.order_id.clone(), renew.line_id(), format_compact14(expire));
    if run
        .call_maybe_twice("refreshLicenseCode RENEWAL", Via::Basic, || {
            bodies::refresh_license_code(&code, &order_id, &line, "RENEWAL", &expire_text, test)
        })
        .await
    {
        update(&mut run, &mut license, |l| l.expire_time = expire).await;
        run.report.state = format!("renewed until {expire_text}");
        expect(&mut run, &code, "not_activated", Some(expire)).await;
        if activate(&mut run, &code).await {
            // The marketplace activated it; keep the scenario's copy in step with it.
            update(&mut run, &mut license, |l| {
                l.state = LicenseState::Active;
                l.activated_at = Some(Utc::now());
            })
            .await;
        }
    }
    if run
        .call("updateLicenseCodeStatus FREEZE", Via::Basic, OK, || {
            bodies::update_license_code_status(&code, "FREEZE", test)
        })
        .await
        .is_some()
    {
        let before = license.state;
        update(&mut run, &mut license, |l| l.state = LicenseState::Frozen).await;
        run.report.state = "frozen".to_owned();
        expect(&mut run, &code, "frozen", None).await;
        if run
            .call_maybe_twice("updateLicenseCodeStatus UNFREEZE", Via::Basic, || {
                bodies::update_license_code_status(&code, "UNFREEZE", test)
            })
            .await
        {
            update(&mut run, &mut license, |l| l.state = before).await;
            run.report.state = "active".to_owned();
            let status = if before == LicenseState::Active { "active" } else { "not_activated" };
            expect(&mut run, &code, status, None).await;
        }
    }
    if run
        .call("releaseLicenseCode", Via::Basic, OK, || bodies::release_license_code(&code, None, test))
        .await
        .is_some()
    {
        update(&mut run, &mut license, |l| l.state = LicenseState::Released).await;
        run.report.state = "released".to_owned();
        expect(&mut run, &code, "released", None).await;
    }
    run.call("releaseLicenseCode (again)", Via::Basic, OK, || bodies::release_license_code(&code, None, test)).await;
    run.finish()
}
