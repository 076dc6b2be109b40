//! Arbitrary JSON parameter objects never panic schema validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxve_types::format;
use oxve_types::schema::{verify_object, Schema};

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let schema = Schema::object("")
        .required("userid", Schema::string("u").format(format::USERID))
        .optional("vmid", Schema::integer("v").minimum(100).maximum(999_999_999))
        .optional("full", Schema::boolean("f"))
        .optional("list", Schema::array("l", Schema::string("i").format(format::VMID_LIST)));
    let _ = verify_object(&schema, map);
});
