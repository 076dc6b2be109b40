//! Property strings never panic the parser, and whatever parses prints back to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxve_types::property_string::PropertyStringFormat;
use oxve_types::schema::Schema;

fn nic_format() -> PropertyStringFormat {
    PropertyStringFormat::new()
        .default_key("model", Schema::string("model").enum_values(&["virtio", "e1000"]), false)
        .optional("macaddr", Schema::string("mac").pattern("[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}"))
        .optional("bridge", Schema::string("bridge").max_length(16))
        .optional("firewall", Schema::boolean("firewall"))
        .optional("tag", Schema::integer("tag").minimum(1).maximum(4094))
        .key_alias("virtio", "model", "macaddr")
        .key_alias("e1000", "model", "macaddr")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let format = nic_format();
    if let Ok(values) = format.parse(text) {
        let printed = format.print(&values);
        assert_eq!(format.parse(&printed).ok(), Some(values));
    }
});
