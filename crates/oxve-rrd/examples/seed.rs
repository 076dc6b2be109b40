//! Fill a series with synthetic samples every 10 s over the last `days` days, as the daemon's
//! sampler would have (for benchmarks): `seed <rrd dir> <key> <days> <source>...`.

use oxve_rrd::RrdStore;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: seed <rrd dir> <key> <days> <source>...");
        std::process::exit(2);
    }
    let store = RrdStore::new(&args[0]);
    let key = &args[1];
    let days: u64 = args[2].parse().expect("days");
    let sources: Vec<&str> = args[3..].iter().map(String::as_str).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let start = now - days * 86400;
    let mut t = start;
    while t <= now {
        let phase = (t - start) as f64 / 3600.0;
        let values: Vec<Option<f64>> = (0..sources.len())
            .map(|i| Some((phase + i as f64).sin().abs() * 1e6 + i as f64))
            .collect();
        store.update(key, &sources, t, &values).expect("update");
        t += 10;
    }
    let written = store.flush().expect("flush");
    println!(
        "seeded {key}: {} samples, {written} file(s)",
        (now - start) / 10 + 1
    );
}
