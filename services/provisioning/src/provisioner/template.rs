//! The template provisioner: no ISV endpoint. URLs come from templates, the admin password is
//! generated, and nothing outside koofill is touched (so it also answers every debug order).

use koofill_model::{InstanceId, basic::ChangeProductInfo};
use rand::{Rng, seq::SliceRandom};

use super::{Change, ChangeVerdict, CreateRequest, PlainAppInfo, Provisioner, ProvisionerError};

/// Length of generated admin passwords.
const PASSWORD_LEN: usize = 16;

/// Answers from `provisioner.front_end_url_template` / `admin_url_template`.
#[derive(Debug, Clone)]
pub struct TemplateProvisioner {
    front_end_url_template: String,
    admin_url_template: String,
}

impl TemplateProvisioner {
    /// A provisioner filling these templates; `{instanceId}`, `{customerId}` and `{tenantCode}`
    /// are replaced.
    pub fn new(front_end_url_template: impl Into<String>, admin_url_template: impl Into<String>) -> Self {
        Self { front_end_url_template: front_end_url_template.into(), admin_url_template: admin_url_template.into() }
    }

    fn fill(template: &str, request: &CreateRequest) -> String {
        let customer = request.customer_id.as_deref().unwrap_or("unknown");
        template
            .replace("{instanceId}", request.instance_id.as_str())
            .replace("{customerId}", customer)
            .replace("{tenantCode}", &tenant_code(request))
    }
}

/// The tenant code placed in URLs: the buyer's account name made URL-safe, else the instance ID.
/// (A Kit tenant is bound after the purchase, so its code is not known at create time.)
pub fn tenant_code(request: &CreateRequest) -> String {
    let slug: String = request
        .customer_name
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            '_' | '.' | ' ' => Some('-'),
            _ => None,
        })
        .collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() { request.instance_id.to_string() } else { slug.to_owned() }
}

/// A random password with upper and lower case letters, digits and a symbol.
pub fn generate_password() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"!@#%^*-_=+";
    let mut rng = rand::thread_rng();
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    // One of each class, then any; shuffled so the classes are not in a fixed place.
    let mut chars: Vec<u8> =
        [UPPER, LOWER, DIGITS, SYMBOLS].iter().map(|set| set[rng.gen_range(0..set.len())]).collect();
    chars.extend((4..PASSWORD_LEN).map(|_| all[rng.gen_range(0..all.len())]));
    chars.shuffle(&mut rng);
    String::from_utf8_lossy(&chars).into_owned()
}

impl Provisioner for TemplateProvisioner {
    async fn create(&self, _call_id: &str, request: &CreateRequest) -> Result<PlainAppInfo, ProvisionerError> {
        let memo = request.test.then(|| "Debug order: no real tenant was created.".to_owned());
        let info = PlainAppInfo {
            front_end_url: Self::fill(&self.front_end_url_template, request),
            admin_url: Some(Self::fill(&self.admin_url_template, request)).filter(|u| !u.is_empty()),
            user_name: Some("admin".to_owned()),
            password: Some(generate_password()),
            memo,
        };
        info.validate("instance.create")?;
        Ok(info)
    }

    async fn apply(&self, _call_id: &str, _test: bool, _change: &Change) -> Result<(), ProvisionerError> {
        // Products provisioned by template read their tenants from koofill's events and
        // database; there is nobody to call.
        Ok(())
    }

    async fn change_check(
        &self,
        _instance_id: &InstanceId,
        _product: &ChangeProductInfo,
        _test: bool,
    ) -> Result<ChangeVerdict, ProvisionerError> {
        Ok(ChangeVerdict { allowed: true, message: None })
    }
}

#[cfg(test)]
mod tests {
    use koofill_model::{OrderId, OrderLineId};

    use super::*;

    fn request(customer_name: Option<&str>) -> CreateRequest {
        CreateRequest {
            instance_id: InstanceId::from("i-1"),
            order_id: OrderId::from("CS1"),
            order_line_id: OrderLineId::from("CS1-000001"),
            test: false,
            order_type: None,
            customer_id: Some("c-9".into()),
            customer_name: customer_name.map(Into::into),
            charging_mode: None,
            product: None,
            products: vec![],
            period_type: None,
            period_number: None,
            expire_time: None,
            extend_params: vec![],
        }
    }

    #[tokio::test]
    async fn fills_templates_and_generates_a_password() {
        let p =
            TemplateProvisioner::new("https://app.example.com/t/{tenantCode}", "https://x/{customerId}/{instanceId}");
        let info = p.create("c", &request(Some("Mock_User 01"))).await.unwrap();
        assert_eq!(info.front_end_url, "https://app.example.com/t/mock-user-01");
        assert_eq!(info.admin_url.as_deref(), Some("https://x/c-9/i-1"));
        let pw = info.password.unwrap();
        assert_eq!(pw.len(), PASSWORD_LEN);
        assert!(pw.chars().any(|c| c.is_ascii_uppercase()) && pw.chars().any(|c| c.is_ascii_digit()));
        assert_ne!(pw, generate_password());
        let info = p.create("c", &request(Some("测试"))).await.unwrap();
        assert_eq!(info.front_end_url, "https://app.example.com/t/i-1", "falls back to the instance");
    }
}
