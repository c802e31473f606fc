//! 查询订单 (query order, spec §8.2).

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use koofill_model::QueryOrderResponse;
use koofill_model::order::MKT_SUCCESS;
use koofill_signing::percent;
use serde_json::json;

use super::{AppState, api_error, auth};

/// `GET …/order/query?orderId=&orderLineId=`: the order (just the asked line when `orderLineId`
/// is given); `MKT.0100` for an unknown order or line, `MKT.0101` without `orderId`.
pub(super) async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = auth::authenticate(&state.cfg, &method, &uri, &headers, &body, chrono::Utc::now()) {
        return refusal.into_response();
    }
    let params = percent::parse_query(uri.query().unwrap_or_default());
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let Some(order_id) = param("orderId") else {
        return api_error(StatusCode::BAD_REQUEST, "MKT.0101", "Invalid parameter");
    };
    let Some(mut order) = state.market.order(order_id) else {
        return unknown_order();
    };
    if let Some(line) = param("orderLineId") {
        order.order_line.retain(|l| l.order_line_id.as_str() == line);
        if order.order_line.is_empty() {
            return unknown_order();
        }
    }
    let answer = QueryOrderResponse {
        result_code: MKT_SUCCESS.to_owned(),
        result_msg: Some("Success".to_owned()),
        order_info: Some(order),
    };
    match serde_json::to_vec(&answer) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json;charset=UTF-8")], bytes).into_response(),
        Err(_) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "MKT.0999", "System internal error."),
    }
}

/// The documented answer for an order the marketplace does not have: HTTP 500, `MKT.0100`, in the
/// query-order answer's own shape.
fn unknown_order() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(json!({"resultCode": "MKT.0100", "resultMsg": "Failure of input parameter"})),
    )
        .into_response()
}
