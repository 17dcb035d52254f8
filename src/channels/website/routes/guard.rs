//! The site's defences: signed form tokens with a minimum fill time, per-address limits
//! counted in the database, and the client address behind an optional trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::channels::website::WebsiteDesk;
use crate::config::WebsiteSettings;
use crate::secrets::Secrets;
use crate::web::client::{client_ip, AddressKeys};
use crate::web::error::ApiError;

pub(super) const SUBMIT_SCOPE: &str = "website_submit";
pub(super) const TRACK_SCOPE: &str = "website_track";
const FORM_TOKEN_SCOPE: &str = "website_form_token";

/// The public site's shared parts.
pub struct PublicSite {
    pub desk: WebsiteDesk,
    pub settings: WebsiteSettings,
    form_key: [u8; 32],
    addresses: AddressKeys,
}

impl PublicSite {
    /// Form tokens are signed with `website.form_secret` when one is set, otherwise with a key
    /// derived from the instance's secret (shared by instances that share it).
    pub fn new(desk: WebsiteDesk, settings: WebsiteSettings, secrets: &Secrets) -> Self {
        let form_key: [u8; 32] = match settings.form_secret.is_empty() {
            true => secrets.derive("website-form-token"),
            false => Sha256::digest(settings.form_secret.as_bytes()).into(),
        };
        Self {
            desk,
            settings,
            form_key,
            addresses: AddressKeys::new(secrets.derive("client-address")),
        }
    }

    pub fn form_token(&self, now: DateTime<Utc>) -> String {
        self.tokens().issue(now)
    }

    pub(super) fn tokens(&self) -> FormTokens<'_> {
        FormTokens {
            key: &self.form_key,
            settings: &self.settings,
        }
    }

    /// A digest of the client's address (an IPv6 client's /64): limits need to recognise
    /// it, not to store it.
    fn address_key(&self, ip: IpAddr) -> String {
        self.addresses.of(ip)
    }

    pub(super) fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        client_ip(peer, headers, self.settings.trust_forwarded_for)
    }

    pub(super) async fn allow(
        &self,
        scope: &str,
        ip: IpAddr,
        limits: &[(chrono::Duration, u32)],
    ) -> Result<bool, ApiError> {
        Ok(self
            .desk
            .limit_hit(scope, &self.address_key(ip), limits, crate::clock::now())
            .await?)
    }

    /// The submission limits of an address, checked and counted with the message itself.
    pub(super) fn submit_rate(&self, ip: IpAddr) -> crate::domain::RateCheck {
        crate::domain::RateCheck {
            scope: SUBMIT_SCOPE.to_owned(),
            key: self.address_key(ip),
            limits: vec![
                (chrono::Duration::hours(1), self.settings.per_ip_per_hour),
                (chrono::Duration::days(1), self.settings.per_ip_per_day),
            ],
        }
    }

    /// Spends a fresh form token: true the first time, false when it was used already (a
    /// replay). Kept as long as a token lives, across instances.
    pub(super) async fn spend(&self, token: &str, now: DateTime<Utc>) -> Result<bool, ApiError> {
        let life = chrono::Duration::hours(self.settings.form_max_age_hours as i64 + 1);
        Ok(self
            .desk
            .limit_hit(FORM_TOKEN_SCOPE, token, &[(life, 1)], now)
            .await?)
    }

    pub(super) fn track_limits(&self) -> [(chrono::Duration, u32); 1] {
        [(
            chrono::Duration::hours(1),
            self.settings.track_per_ip_per_hour,
        )]
    }
}

/// Signed form tokens: the time the form was served and a random nonce, with an HMAC over
/// them. Each is good for one message (`PublicSite::spend`).
pub(super) struct FormTokens<'a> {
    key: &'a [u8; 32],
    settings: &'a WebsiteSettings,
}

impl FormTokens<'_> {
    fn mac(&self, issued: i64, nonce: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key).expect("HMAC takes any key length");
        mac.update(format!("form|{issued}|{nonce}").as_bytes());
        mac
    }

    fn issue(&self, now: DateTime<Utc>) -> String {
        let issued = now.timestamp();
        let nonce = hex::encode(rand::random::<[u8; 8]>());
        let signature = hex::encode(self.mac(issued, &nonce).finalize().into_bytes());
        format!("{issued}.{nonce}.{signature}")
    }

    pub(super) fn check(&self, token: &str, now: DateTime<Utc>) -> TokenCheck {
        let mut parts = token.splitn(3, '.');
        let (Some(issued), Some(nonce), Some(signature)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return TokenCheck::Invalid;
        };
        let (Ok(issued), Ok(signature)) = (issued.parse::<i64>(), hex::decode(signature)) else {
            return TokenCheck::Invalid;
        };
        if self.mac(issued, nonce).verify_slice(&signature).is_err() {
            return TokenCheck::Invalid;
        }
        let age = now.timestamp() - issued;
        if age < self.settings.min_fill_seconds as i64 {
            TokenCheck::TooFast
        } else if age > self.settings.form_max_age_hours as i64 * 3600 {
            TokenCheck::Expired
        } else {
            TokenCheck::Fresh
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum TokenCheck {
    Fresh,
    TooFast,
    Expired,
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WebsiteSettings {
        WebsiteSettings {
            enabled: true,
            public_base_url: String::new(),
            form_secret: "secret".into(),
            min_fill_seconds: 3,
            form_max_age_hours: 24,
            per_ip_per_hour: 5,
            per_ip_per_day: 20,
            track_per_ip_per_hour: 20,
            track_failures_per_case_per_hour: 10,
            help_phone: "3105883".into(),
            confirmations_per_recipient_per_day: 3,
            fold_window_minutes: 60,
            cors_origins: Vec::new(),
            trust_forwarded_for: false,
            privacy_contact: String::new(),
        }
    }

    #[test]
    fn form_tokens_need_time_a_signature_and_freshness() {
        let key: [u8; 32] = Sha256::digest(b"secret").into();
        let settings = settings();
        let site_like = FormTokens {
            key: &key,
            settings: &settings,
        };
        let t0 = chrono::Utc::now();
        let token = site_like.issue(t0);
        assert_eq!(
            site_like.check(&token, t0 + chrono::Duration::seconds(1)),
            TokenCheck::TooFast
        );
        assert_eq!(
            site_like.check(&token, t0 + chrono::Duration::seconds(10)),
            TokenCheck::Fresh
        );
        assert_eq!(
            site_like.check(&token, t0 + chrono::Duration::hours(25)),
            TokenCheck::Expired
        );
        let forged = format!(
            "{}.{}",
            t0.timestamp() - 100,
            token.split_once('.').unwrap().1
        );
        assert_eq!(site_like.check(&forged, t0), TokenCheck::Invalid);
        assert_eq!(site_like.check("nonsense", t0), TokenCheck::Invalid);
        let (issued, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let other_nonce = format!("{issued}.0000000000000000.{signature}");
        assert_eq!(
            site_like.check(&other_nonce, t0 + chrono::Duration::seconds(10)),
            TokenCheck::Invalid
        );
        assert_ne!(
            site_like.issue(t0),
            token,
            "two forms served in the same second differ"
        );
    }
}
