//! `.fw` files never panic the reader, and whatever reads prints back to the same config.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxve_net::firewall::FwConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = FwConfig::parse(text) {
        for rule in &cfg.rules {
            let _ = rule.validate();
        }
        let printed = cfg.render();
        assert_eq!(FwConfig::parse(&printed).as_ref(), Ok(&cfg), "{printed}");
    }
});
