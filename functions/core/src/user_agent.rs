//! User-agent enrichment: device type, browser, OS and a bot flag, from the
//! `woothee` parser (a maintained port of the Woothee project's rules).

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    Mobile,
    Tablet,
    Desktop,
    Bot,
    Other,
}

impl DeviceType {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Mobile => "mobile",
            DeviceType::Tablet => "tablet",
            DeviceType::Desktop => "desktop",
            DeviceType::Bot => "bot",
            DeviceType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mobile" => DeviceType::Mobile,
            "tablet" => DeviceType::Tablet,
            "desktop" => DeviceType::Desktop,
            "bot" => DeviceType::Bot,
            "other" => DeviceType::Other,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgentInfo {
    pub device_type: DeviceType,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub is_bot: bool,
}

fn known(s: &str) -> Option<String> {
    (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_owned())
}

/// Parses one user-agent string.
pub fn parse(ua: &str) -> UserAgentInfo {
    let parsed = woothee::parser::Parser::new().parse(ua);
    let Some(r) = parsed else {
        return UserAgentInfo {
            device_type: DeviceType::Other,
            browser: None,
            os: None,
            is_bot: false,
        };
    };
    let is_bot = r.category == "crawler";
    let device_type = match r.category {
        "crawler" => DeviceType::Bot,
        "pc" => DeviceType::Desktop,
        // Woothee files tablets under smartphone; the platform names tell them apart.
        "smartphone" | "mobilephone" if is_tablet(ua, r.os) => DeviceType::Tablet,
        "smartphone" | "mobilephone" => DeviceType::Mobile,
        _ => DeviceType::Other,
    };
    UserAgentInfo {
        device_type,
        browser: known(r.name),
        os: known(r.os),
        is_bot,
    }
}

/// iPads and Android devices without the "Mobile" token are tablets (Google's
/// and Apple's documented convention for their user agents).
fn is_tablet(ua: &str, os: &str) -> bool {
    os == "iPad" || ua.contains("iPad") || (os == "Android" && !ua.contains("Mobile"))
}

/// Per-request memo: the events of one batch nearly always share a user agent,
/// and parsing is the most expensive step of enrichment.
#[derive(Default)]
pub struct UserAgentCache {
    entries: HashMap<String, UserAgentInfo>,
    /// The last agent looked up: a compare is cheaper than hashing.
    last: Option<(String, UserAgentInfo)>,
}

impl UserAgentCache {
    const MAX_ENTRIES: usize = 64;

    pub fn get(&mut self, ua: &str) -> &UserAgentInfo {
        if self.last.as_ref().is_some_and(|(s, _)| s == ua) {
            return &self.last.as_ref().expect("checked above").1;
        }
        let info = self.lookup(ua).clone();
        &self.last.insert((ua.to_owned(), info)).1
    }

    fn lookup(&mut self, ua: &str) -> &UserAgentInfo {
        if !self.entries.contains_key(ua) {
            if self.entries.len() >= Self::MAX_ENTRIES {
                self.entries.clear();
            }
            self.entries.insert(ua.to_owned(), parse(ua));
        }
        &self.entries[ua]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_mobile_tablet_and_bots() {
        let chrome = parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36");
        assert_eq!(chrome.device_type, DeviceType::Desktop);
        assert_eq!(chrome.browser.as_deref(), Some("Chrome"));
        assert_eq!(chrome.os.as_deref(), Some("Windows 10"));
        assert!(!chrome.is_bot);

        let iphone = parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1");
        assert_eq!(iphone.device_type, DeviceType::Mobile);
        assert_eq!(iphone.os.as_deref(), Some("iPhone"));

        let ipad = parse("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1");
        assert_eq!(ipad.device_type, DeviceType::Tablet);

        let android_tablet = parse("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36");
        assert_eq!(android_tablet.device_type, DeviceType::Tablet);
        let android_phone = parse("Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36");
        assert_eq!(android_phone.device_type, DeviceType::Mobile);

        let google =
            parse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert!(google.is_bot);
        assert_eq!(google.device_type, DeviceType::Bot);
    }

    #[test]
    fn unknown_agents_are_other_not_errors() {
        let x = parse("");
        assert_eq!(x.device_type, DeviceType::Other);
        assert!(!x.is_bot);
        let mut cache = UserAgentCache::default();
        assert_eq!(
            cache.get("curl/8.0").device_type,
            parse("curl/8.0").device_type
        );
    }
}
