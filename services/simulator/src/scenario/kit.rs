//! Kit (联营) binding (spec §5): after a joint-operation order is opened, the buyer binds it to an
//! enterprise: tenantSync, applicationSync (`clientSecret` RSA-OAEP-encrypted with the seller's
//! public key), then users are authorised (authSync) and departments synced (singleOrgSync,
//! allOrgSync). Repeated adds and deletes must all succeed (§5.2–§5.6).

use koofill_model::order::{ChargingMode, OrderType};
use koofill_signing::client_secret::{self, OaepVariant};
use rand::{Rng, seq::SliceRandom};

use super::runner::{Run, Via};
use crate::bodies::{self, Tenant};
use crate::orders::{MONTHLY_BASIC, OrderSpec};
use crate::report::{Outcome, ScenarioReport};

/// The OAuth client secret the buyer's enterprise registers; the seller decrypts it (spec §2.7).
pub const CLIENT_SECRET: &str = "sim-client-secret-6f1d2c";

fn hex_id(run: &mut Run<'_>, bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", run.rng.r#gen::<u8>())).collect()
}

/// Open a joint-operation period order, bind it, authorise users, sync departments, then revoke a
/// user, delete a department and unbind the tenant.
pub(super) async fn binding(mut run: Run<'_>) -> ScenarioReport {
    let now = chrono::Utc::now();
    let order_id = if run.registry.is_off() { "MOCKPERIODYEARNEW".to_owned() } else { run.fresh_order_id() };
    let spec = OrderSpec {
        order_id,
        order_type: OrderType::New,
        charging_mode: ChargingMode::Period,
        period: Some(("month", 1)),
        create_time: now,
        expire_time: now.checked_add_months(chrono::Months::new(1)),
        products: vec![MONTHLY_BASIC],
        amount: ("10", "10"),
    };
    run.register_order(&spec).await;
    let Some(id) = run.open(&spec, ChargingMode::Period).await else { return run.finish() };
    run.poll_ready(&id).await;
    if run.sender.keys().kit_key.is_none() {
        run.step("Kit sync", Outcome::Skipped, "no Kit key configured", 0, Default::default());
        return run.finish();
    }
    let tenant = Tenant {
        tenant_id: hex_id(&mut run, 16),
        tenant_code: format!("sim{}", hex_id(&mut run, 3)),
        name: "模拟企业".to_owned(),
        domain_name: "https://sim-tenant.example.com".to_owned(),
    };
    let test = run.test();
    let order_id = spec.order_id.clone();
    run.call_maybe_twice("tenantSync add", Via::Kit("tenantSync"), || {
        bodies::tenant_sync(&id, &order_id, &tenant, 1, test)
    })
    .await;
    run.report.state = "bound".to_owned();

    let app_id = format!("app-{}", hex_id(&mut run, 8));
    let client_id = format!("client-{}", hex_id(&mut run, 8));
    match run.options.client_secret_public_key_pem.clone() {
        None => run.step(
            "applicationSync add",
            Outcome::Skipped,
            "no seller public key given for clientSecret",
            0,
            Default::default(),
        ),
        Some(pem) => match client_secret::encrypt(&pem, CLIENT_SECRET, OaepVariant::Sha256Mgf1Sha1) {
            Err(e) => run.step(
                "applicationSync add",
                Outcome::Failed,
                format!("cannot encrypt clientSecret: {e}"),
                0,
                Default::default(),
            ),
            Ok(secret) => {
                run.call_maybe_twice("applicationSync add", Via::Kit("applicationSync"), || {
                    bodies::application_sync(&id, &tenant.tenant_id, &app_id, &client_id, &secret, 1, test)
                })
                .await;
            }
        },
    }

    let root = ("10000".to_owned(), "模拟企业".to_owned(), String::new());
    let mut children = [
        ("10001".to_owned(), "研发部".to_owned(), root.0.clone()),
        ("10002".to_owned(), "市场部".to_owned(), root.0.clone()),
        ("10003".to_owned(), "财务部".to_owned(), root.0.clone()),
    ];
    // Siblings arrive in any order; a parent always before its children.
    children.shuffle(&mut run.rng);
    run.call("allOrgSync", Via::Kit("allOrgSync"), super::runner::OK, || {
        let all: Vec<_> = std::iter::once(root.clone()).chain(children.iter().cloned()).collect();
        bodies::all_org_sync(&id, &tenant.tenant_id, &all, test)
    })
    .await;
    for org in std::iter::once(&root).chain(children.iter()) {
        let name = format!("singleOrgSync add {}", org.0);
        run.call_maybe_twice(&name, Via::Kit("singleOrgSync"), || {
            bodies::single_org_sync(&id, &tenant.tenant_id, org, 1, test)
        })
        .await;
    }

    let users = vec![
        bodies::user("zhangsan01", "张三", &children[0].0, "admin"),
        bodies::user("lisi02", "李四", &children[1].0, "user"),
    ];
    run.call_maybe_twice("authSync add", Via::Kit("authSync"), || {
        bodies::auth_sync(&id, &tenant.tenant_id, &app_id, &users, 1, test)
    })
    .await;
    run.call("authSync revoke", Via::Kit("authSync"), super::runner::OK, || {
        bodies::auth_sync(&id, &tenant.tenant_id, &app_id, &users[1..], 3, test)
    })
    .await;
    let gone = children[2].clone();
    run.call_maybe_twice("singleOrgSync delete", Via::Kit("singleOrgSync"), || {
        bodies::single_org_sync(&id, &tenant.tenant_id, &gone, 0, test)
    })
    .await;
    // Deletes must succeed again and again, without checking the instance (spec §5.2).
    run.call("tenantSync delete", Via::Kit("tenantSync"), super::runner::OK, || {
        bodies::tenant_sync(&id, &order_id, &tenant, 0, test)
    })
    .await;
    run.call("tenantSync delete (again)", Via::Kit("tenantSync"), super::runner::OK, || {
        bodies::tenant_sync(&id, &order_id, &tenant, 0, test)
    })
    .await;
    run.report.state = "unbound".to_owned();
    run.finish()
}
