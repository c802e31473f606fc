//! Every reference vector of the KooGallery spec's Appendix A, in both directions where the
//! algorithm has two (sign and verify, encrypt and decrypt).

use koofill_signing::{
    SignatureError, apig,
    basic::{self, Matched},
    body_sign, client_secret, field_crypto, kit, percent, usage, v1,
};

const KEY: &[u8] = b"test-access-key-123";
const NONCE: &str = "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA";
const TS: &str = "1680508066618";
const BASIC_BODY: &str = r#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;
const BASIC_SIG: &str = "62E90CD8E07B3F168F232D9099789AAB7BA6ECCE7D5977652F689BEC1B64D13F";
const KIT_BODY: &str = r#"{"domainName":"https://example.tenantaccount.com","flag":1,"instanceId":"huaiweitest123456","name":"huaiweitest","orderId":"CS1906666666ABCDE","tenantCode":"huawei","tenantId":"68cbc86abc2018ab880d92f36422fa0e","testFlag":0,"timeStamp":"20220413093539534"}"#;
const KIT_SIG: &str = "700A05BA14834724CEAB2BA9EF500BCB7E9F774FD223BB2CA70FAE6DB93A5825";

#[test]
fn v2_basic_signature_vector() {
    assert_eq!(
        hex::encode(hmac_of(KEY, BASIC_BODY.as_bytes())),
        "285908bb4967f74e31d81e4e6535e080bd5044f4371d9256c58670d2b69a67a9"
    );
    assert_eq!(basic::sign_payload(KEY, NONCE, TS, BASIC_BODY.as_bytes()), BASIC_SIG);
    assert_eq!(basic::sign_body(KEY, NONCE, TS, BASIC_BODY.as_bytes()).unwrap(), BASIC_SIG);
    assert_eq!(basic::verify(KEY, NONCE, TS, BASIC_BODY.as_bytes(), BASIC_SIG), Ok(Matched::Canonical));
    assert_eq!(basic::verify(KEY, NONCE, TS, BASIC_BODY.as_bytes(), &BASIC_SIG.to_lowercase()), Ok(Matched::Canonical));
}

#[test]
fn v2_basic_signature_holds_for_unsorted_pretty_and_null_bearing_bodies() {
    // The same fields, reordered, spaced and with a null: the canonical payload is unchanged.
    let messy = r#"{ "testFlag" : "1", "orderLineId":"CS2211181819B4LVS-000001", "extra": null,
        "orderId":"CS2211181819B4LVS","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","activity":"newInstance" }"#;
    assert_eq!(basic::verify(KEY, NONCE, TS, messy.as_bytes(), BASIC_SIG), Ok(Matched::Canonical));
}

#[test]
fn v2_basic_raw_body_fallback() {
    // A signer that signed the raw bytes (not canonical): accepted through the fallback.
    let raw = br#"{"b":"2","a":"1"}"#;
    let sig = basic::sign_payload(KEY, NONCE, TS, raw);
    assert_eq!(basic::verify(KEY, NONCE, TS, raw, &sig), Ok(Matched::RawBody));
    // A non-JSON body can still only match raw.
    assert_eq!(
        basic::verify(KEY, NONCE, TS, b"not json", &basic::sign_payload(KEY, NONCE, TS, b"not json")),
        Ok(Matched::RawBody)
    );
}

#[test]
fn v2_basic_rejections() {
    let body = BASIC_BODY.as_bytes();
    assert_eq!(basic::verify(b"other-key", NONCE, TS, body, BASIC_SIG), Err(SignatureError::Mismatch));
    assert_eq!(basic::verify(KEY, NONCE, "1680508066619", body, BASIC_SIG), Err(SignatureError::Mismatch));
    assert_eq!(basic::verify(KEY, "x", TS, body, BASIC_SIG), Err(SignatureError::Mismatch));
    assert_eq!(basic::verify(KEY, NONCE, TS, body, ""), Err(SignatureError::Missing("signature")));
    assert_eq!(basic::verify(KEY, "", TS, body, BASIC_SIG), Err(SignatureError::Missing("nonce")));
    // The Kit key must not verify basic calls, and vice versa.
    assert_eq!(kit::verify(KEY, NONCE, TS, body, BASIC_SIG), Err(SignatureError::Mismatch));
}

#[test]
fn key_rotation_tries_each_key() {
    let keys: [&[u8]; 2] = [b"new-key", KEY];
    assert_eq!(basic::verify_any(&keys, NONCE, TS, BASIC_BODY.as_bytes(), BASIC_SIG), Ok((1, Matched::Canonical)));
    assert_eq!(kit::verify_any(&keys, NONCE, TS, KIT_BODY.as_bytes(), KIT_SIG), Ok((1, Matched::Canonical)));
    let only_new: [&[u8]; 1] = [b"new-key"];
    assert_eq!(
        basic::verify_any(&only_new, NONCE, TS, BASIC_BODY.as_bytes(), BASIC_SIG),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn v2_kit_signature_vector() {
    assert_eq!(kit::sign_payload(KEY, NONCE, TS, KIT_BODY.as_bytes()), KIT_SIG);
    assert_eq!(kit::sign_body(KEY, NONCE, TS, KIT_BODY.as_bytes()).unwrap(), KIT_SIG);
    assert_eq!(kit::verify(KEY, NONCE, TS, KIT_BODY.as_bytes(), KIT_SIG), Ok(Matched::Canonical));
    // The spec's tenantSync example is pretty-printed and unsorted; integers stay integers.
    let pretty = r#"{"instanceId": "huaiweitest123456","orderId": "CS1906666666ABCDE","tenantId": "68cbc86abc2018ab880d92f36422fa0e","tenantCode": "huawei","name": "huaiweitest","domainName": "https://example.tenantaccount.com","flag": 1,"testFlag": 0,"timeStamp": "20220413093539534"}"#;
    assert_eq!(kit::verify(KEY, NONCE, TS, pretty.as_bytes(), KIT_SIG), Ok(Matched::Canonical));
    // Quoting the integers changes the payload, so the signature no longer holds.
    let quoted = KIT_BODY.replace("\"flag\":1", "\"flag\":\"1\"");
    assert_eq!(kit::verify(KEY, NONCE, TS, quoted.as_bytes(), KIT_SIG), Err(SignatureError::Mismatch));
    assert_eq!(kit::verify(KEY, NONCE, TS, KIT_BODY.as_bytes(), ""), Err(SignatureError::Missing("x-sign")));
}

#[test]
fn v1_auth_token_published_vector() {
    let query = "activity=newInstance&businessId=61e834ba-7b97-4418-b8f7-e5345137278c&customerId=68cbc86abc2018ab880d92f36422fa0e&expireTime=20200727153156&orderId=CS1906666666ABCDE&productId=00301-666666-0--0&testFlag=1&timeStamp=20200727073711903&authToken=Gzbfjf9LHRBcI3bFVi++sLinCNOBF6qa7is1fvjEgYQ=";
    let params = percent::parse_query(query);
    assert_eq!(v1::auth_token(b"xxxxxxx", &params).unwrap(), "Gzbfjf9LHRBcI3bFVi++sLinCNOBF6qa7is1fvjEgYQ=");
    // The raw `+` of the URL decodes to spaces; verification reads them back.
    assert_eq!(v1::verify(b"xxxxxxx", &params, None), Ok(()));
    assert_eq!(v1::verify(b"yyyyyyy", &params, None), Err(SignatureError::Mismatch));
}

#[test]
fn v1_auth_token_computed_vector() {
    let params: Vec<(String, String)> = [
        ("timeStamp", "20170725025113409"),
        ("activity", "refreshInstance"),
        ("expireTime", "20180725000000"),
        ("instanceId", "03pf80c2bae96vc49b80b917bea776d7"),
        ("orderId", "HWS001014ED483AA1E8"),
        ("testFlag", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let token = v1::auth_token(KEY, &params).unwrap();
    assert_eq!(token, "xu9eZO0HYYxD8EkEu6fRgFHggnfYrmhNW6kdep8CNks=");
    assert_eq!(v1::verify(KEY, &params, Some(&token)), Ok(()));
    let mut tampered = params.clone();
    tampered[2].1 = "20180726000000".into();
    assert_eq!(v1::verify(KEY, &tampered, Some(&token)), Err(SignatureError::Mismatch));
    assert_eq!(v1::verify(KEY, &params, None), Err(SignatureError::Missing("authToken")));
}

#[test]
fn v1_post_body_flattens_to_params() {
    let params =
        v1::params_from_json_body(br#"{"b":"x","a":1,"n":null,"l":[1,{"k":"v"}],"timeStamp":"20220413093539534"}"#)
            .unwrap();
    assert_eq!(
        params,
        vec![
            ("b".to_owned(), "x".to_owned()),
            ("a".to_owned(), "1".to_owned()),
            ("l".to_owned(), r#"[1,{"k":"v"}]"#.to_owned()),
            ("timeStamp".to_owned(), "20220413093539534".to_owned()),
        ]
    );
    assert!(v1::auth_token(KEY, &params).is_ok());
}

#[test]
fn body_sign_vector() {
    let body = br#"{"resultCode":"000000","resultMsg":"success."}"#;
    assert_eq!(body_sign::signature(KEY, body), "dhuV96/hRKJHTCyHm4gf0X6B/8yLzE/36alXbdFWnQY=");
    let header = body_sign::header_value(KEY, body);
    assert_eq!(header, r#"sign_type="HMAC-SHA256", signature= "dhuV96/hRKJHTCyHm4gf0X6B/8yLzE/36alXbdFWnQY=""#);
    assert_eq!(body_sign::verify(KEY, &header, body), Ok(()));
    assert_eq!(
        body_sign::verify(
            KEY,
            r#"signature="dhuV96/hRKJHTCyHm4gf0X6B/8yLzE/36alXbdFWnQY=",sign_type="HMAC-SHA256""#,
            body
        ),
        Ok(())
    );
    // One byte more (a trailing newline) breaks it: the signature is over the exact bytes.
    assert_eq!(body_sign::verify(KEY, &header, &[body.as_slice(), b"\n"].concat()), Err(SignatureError::Mismatch));
    assert!(body_sign::verify(KEY, "garbage", body).is_err());
    assert!(body_sign::verify(KEY, r#"sign_type="MD5", signature= "x""#, body).is_err());
}

#[test]
fn sha1prng_key_vectors() {
    assert_eq!(
        hex::encode(field_crypto::derive_key(KEY, field_crypto::EncryptType::Aes256)),
        "c9e3a8e3a2c2e5497d975cbdea2fbd5aa15283155960dbd281c147b0e511caee"
    );
    assert_eq!(
        hex::encode(field_crypto::derive_key(KEY, field_crypto::EncryptType::Aes128)),
        "c9e3a8e3a2c2e5497d975cbdea2fbd5a"
    );
    assert_eq!(
        hex::encode(field_crypto::derive_key(b"xxxxxxx", field_crypto::EncryptType::Aes256)),
        "c962ef8500ad13239b5ec0eb6a5c570b3cae0fd0e5c28e793eb6aaa22d251123"
    );
}

#[test]
fn aes_field_encryption_vectors() {
    use field_crypto::{EncryptType, FieldCipher};
    let iv = *b"AbCdEf0123456789";
    for (t, expected) in [
        (EncryptType::Aes256, "AbCdEf01234567891mF1C0WRWxHkwfCDSMyULw=="),
        (EncryptType::Aes128, "AbCdEf0123456789gFTxLsb8X8Y+OMweDD6/Pw=="),
    ] {
        let cipher = FieldCipher::new(KEY, t);
        assert_eq!(cipher.encrypt_with_iv("13800138000", iv), expected);
        assert_eq!(cipher.decrypt(expected).unwrap(), "13800138000");
        assert_eq!(EncryptType::from_wire(t.as_str()), Some(t));
    }
    // Type 1 ciphertext does not decrypt as type 2.
    assert!(FieldCipher::new(KEY, EncryptType::Aes128).decrypt("AbCdEf01234567891mF1C0WRWxHkwfCDSMyULw==").is_err());
}

#[test]
fn apig_vector() {
    let headers = vec![
        ("x-stage".to_owned(), "RELEASE".to_owned()),
        ("X-Sdk-Date".to_owned(), "20240317T144237Z".to_owned()),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    let req = apig::Request {
        method: "POST",
        host: "mkt.myhuaweicloud.com",
        path: "/api/mkp-openapi-public/global/v1/license/activate",
        query: "",
        headers: &headers,
        body: b"",
    };
    let signed = apig::sign(&req, "test", b"123").unwrap();
    assert_eq!(signed.signature, "77595ad624b6e4e49990b8c4e84bf1c287457fca61069c4e60b9b6765b52053d");
    assert_eq!(signed.signed_headers, "content-type;host;x-sdk-date;x-stage");
    assert!(
        signed.authorization.contains("Signature=77595ad624b6e4e49990b8c4e84bf1c287457fca61069c4e60b9b6765b52053d")
    );
    assert!(signed.authorization.starts_with("SDK-HMAC-SHA256 Access=test, SignedHeaders="));

    let auth = apig::parse_authorization(&signed.authorization).unwrap();
    assert_eq!(auth.access, "test");
    assert_eq!(apig::verify(&req, &auth, b"123"), Ok(()));
    assert_eq!(apig::verify(&req, &auth, b"124"), Err(SignatureError::Mismatch));
    let tampered = apig::Request { body: b"{}", ..req };
    assert_eq!(apig::verify(&tampered, &auth, b"123"), Err(SignatureError::Mismatch));
    let moved = apig::Request { path: "/api/mkp-openapi-public/global/v1/license/heartbeat", ..req };
    assert_eq!(apig::verify(&moved, &auth, b"123"), Err(SignatureError::Mismatch));
    let other_host = apig::Request { host: "mkt.myhuaweicloud.cn", ..req };
    assert_eq!(apig::verify(&other_host, &auth, b"123"), Err(SignatureError::Mismatch));
}

#[test]
fn apig_verifies_a_received_request_with_its_headers() {
    let mut headers = vec![
        ("x-stage".to_owned(), "RELEASE".to_owned()),
        ("X-Sdk-Date".to_owned(), "20240317T144237Z".to_owned()),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    let path = "/api/mkp-openapi-public/global/v1/license/activate";
    let req =
        apig::Request { method: "POST", host: "mkt.myhuaweicloud.com", path, query: "", headers: &headers, body: b"" };
    let signed = apig::sign(&req, "test", b"123").unwrap();
    headers.push(("host".to_owned(), "mkt.myhuaweicloud.com".to_owned()));
    headers.push(("Authorization".to_owned(), signed.authorization));
    let secret = |ak: &str| (ak == "test").then(|| b"123".to_vec());
    assert_eq!(apig::verify_received("POST", path, "", &headers, b"", secret), Ok("test".to_owned()));
    assert_eq!(apig::verify_received("POST", path, "", &headers, b"{}", secret), Err(apig::Refusal::BadSignature));
    assert_eq!(apig::verify_received("POST", path, "", &headers, b"", |_| None), Err(apig::Refusal::UnknownAccessKey));
    headers.pop();
    assert_eq!(apig::verify_received("POST", path, "", &headers, b"", secret), Err(apig::Refusal::BadSignature));
}

#[test]
fn apig_signs_the_query_order_request_with_its_query() {
    let headers = vec![
        ("X-Sdk-Date".to_owned(), "20241121T090846Z".to_owned()),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    let req = apig::Request {
        method: "GET",
        host: "mkt.myhuaweicloud.com",
        path: "/api/mkp-openapi-public/global/v1/order/query",
        query: "orderId=CS2207261447AUY4H&orderLineId=CS2207261447AUY4H-000001",
        headers: &headers,
        body: b"",
    };
    let signed = apig::sign(&req, "ak", b"sk").unwrap();
    let auth = apig::parse_authorization(&signed.authorization).unwrap();
    assert_eq!(apig::verify(&req, &auth, b"sk"), Ok(()));
    let other_order = apig::Request { query: "orderId=CS2207261447AUY4H&orderLineId=CS2207261447AUY4H-000002", ..req };
    assert_eq!(apig::verify(&other_order, &auth, b"sk"), Err(SignatureError::Mismatch));
    // Parameter order on the wire does not matter.
    let reordered = apig::Request { query: "orderLineId=CS2207261447AUY4H-000001&orderId=CS2207261447AUY4H", ..req };
    assert_eq!(apig::verify(&reordered, &auth, b"sk"), Ok(()));
}

#[test]
fn usage_push_vector() {
    let unsorted = br#"{"usage_records":[{"instance_id":"7f141bf1-aec8-4859-8323-fb3a8ad50721","record_time":"20220809T091000Z","begin_time":"20220809T080000Z","end_time":"20220809T090000Z","usage_value":"99","metering_sn":"a1b2c3"}]}"#;
    let body = usage::sorted_body(unsorted, usage::SortDepth::AllLevels).unwrap();
    assert_eq!(
        body,
        r#"{"usage_records":[{"begin_time":"20220809T080000Z","end_time":"20220809T090000Z","instance_id":"7f141bf1-aec8-4859-8323-fb3a8ad50721","metering_sn":"a1b2c3","record_time":"20220809T091000Z","usage_value":"99"}]}"#
    );
    let ts = "1709690865879";
    let nonce = "6c63c221-1f6b-4141-8ff4-22f5dfe82b65";
    let sig = usage::sign(KEY, ts, nonce, &body);
    assert_eq!(sig, "BbMq617YcE0OP0MRaOD2uPDrLwcLVNsNODTWyCHPiAs=");
    assert_eq!(usage::verify(KEY, ts, nonce, body.as_bytes(), &sig), Ok(()));
    // The marketplace re-sorts, so the unsorted bytes verify too; a changed value does not.
    assert_eq!(usage::verify(KEY, ts, nonce, unsorted, &sig), Ok(()));
    let changed = body.replace("\"99\"", "\"98\"");
    assert_eq!(usage::verify(KEY, ts, nonce, changed.as_bytes(), &sig), Err(SignatureError::Mismatch));
    assert_eq!(usage::verify(KEY, "1709690865880", nonce, body.as_bytes(), &sig), Err(SignatureError::Mismatch));
    // Top-level-only sorting leaves the records' key order alone.
    assert_eq!(usage::sorted_body(unsorted, usage::SortDepth::TopLevel).unwrap(), String::from_utf8_lossy(unsorted));
}

#[test]
fn client_secret_decrypts_every_oaep_variant_produced_by_openssl() {
    let key =
        client_secret::ClientSecretKey::from_text(include_str!("../fixtures/test-client-secret-key.pem")).unwrap();
    assert_eq!(key.bits(), 3072);
    for (file, variant) in [
        (
            include_str!("../fixtures/client-secret-oaep-sha256-mgf1sha1.b64"),
            client_secret::OaepVariant::Sha256Mgf1Sha1,
        ),
        (
            include_str!("../fixtures/client-secret-oaep-sha256-mgf1sha256.b64"),
            client_secret::OaepVariant::Sha256Mgf1Sha256,
        ),
        (include_str!("../fixtures/client-secret-oaep-sha1-mgf1sha1.b64"), client_secret::OaepVariant::Sha1Mgf1Sha1),
    ] {
        assert_eq!(key.decrypt(file).unwrap(), ("my-client-secret-Ω".to_owned(), variant));
    }
}

#[test]
fn client_secret_roundtrips_through_the_simulator_side() {
    let key = client_secret::ClientSecretKey::from_text(include_str!("../fixtures/test-client-secret-key.pkcs1.pem"))
        .unwrap();
    let public = key.public_key_pem().unwrap();
    assert_eq!(public.trim(), include_str!("../fixtures/test-client-secret-key.pub.pem").trim());
    for variant in client_secret::OaepVariant::ALL {
        let ct = client_secret::encrypt(&public, "s3cr3t", variant).unwrap();
        assert_eq!(key.decrypt(&ct).unwrap(), ("s3cr3t".to_owned(), variant));
        // URL-safe Base64 without padding is accepted as well.
        let url_safe = ct.replace('+', "-").replace('/', "_").trim_end_matches('=').to_owned();
        assert_eq!(key.decrypt(&url_safe).unwrap().0, "s3cr3t");
    }
    assert!(matches!(key.decrypt("!!!"), Err(SignatureError::BadEncoding { .. })));
    assert!(matches!(key.decrypt("AAAA"), Err(SignatureError::Decrypt(_))));
    assert!(client_secret::ClientSecretKey::from_text("not a key").is_err());
    // Debug shows the size, never the key.
    let dbg = format!("{key:?}");
    assert!(dbg.contains("3072") && dbg.len() < 80);
}

#[test]
fn client_secret_reads_bare_base64_pkcs8() {
    let pem = include_str!("../fixtures/test-client-secret-key.pem");
    let bare: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let key = client_secret::ClientSecretKey::from_text(&bare).unwrap();
    let ct = include_str!("../fixtures/client-secret-oaep-sha256-mgf1sha1.b64");
    assert_eq!(key.decrypt(ct).unwrap().0, "my-client-secret-Ω");
}

fn hmac_of(key: &[u8], msg: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}
