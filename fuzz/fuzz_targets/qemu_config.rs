//! Arbitrary VM config text never panics `VmConfig`, and whatever parses writes back to text
//! that parses to the same config.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxve_types::qemu::{HotplugContext, VmConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut config) = VmConfig::parse(text) else {
        return;
    };
    let _ = (config.drives(), config.nets(), config.boot_devices(), config.cpu());
    let _ = (config.pending_list(), config.to_api_json(false));
    let _ = config.hotplug_plan(HotplugContext::default(), None);
    if let Ok(written) = config.to_text() {
        assert_eq!(VmConfig::parse(&written).ok().as_ref(), Some(&config));
    }
    let _ = config.apply_pending(100);
    if let Ok(written) = config.to_text() {
        assert!(VmConfig::parse(&written).is_ok(), "{written:?}");
    }
});
