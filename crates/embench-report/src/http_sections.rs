//! The `http` cells' own table: what the endpoint answered and what the client
//! spent on the wire, so a throughput through HTTP is read with its cost beside it.

use std::fmt::Write;

use crate::fmt::num;
use crate::runs::Entry;
use crate::table::Table;

/// The wire figures of the http cells among `entries` (nothing without any).
pub fn http_table(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let cells: Vec<&Entry<'_>> = entries.iter().filter(|e| e.record.http.is_some()).collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Through HTTP\n");
    let _ = writeln!(
        md,
        "These cells called an endpoint (the `http` backend): latency is the client's, from sending the request \
         (open loop: from its scheduled time) to the whole answer read and checked. **statuses** counts the \
         answers of the measured phase; **KB/request** is HTTP bytes (headers and bodies) each way; **client CPU** \
         is embench's own CPU time per request (the load generator and its HTTP client).\n"
    );
    let mut table = Table::new(&[
        "backend",
        "scenario",
        "batch",
        "endpoint",
        "server",
        "statuses",
        "timeouts",
        "KB/request sent",
        "KB/request received",
        "connections opened",
        "client CPU µs/request",
    ]);
    for e in cells {
        let (r, h) = (e.record, e.record.http.as_ref().expect("filtered"));
        let answered: u64 = h.responses_by_status.values().sum();
        let per = |bytes: u64| (answered > 0).then(|| bytes as f64 / answered as f64 / 1024.0);
        let statuses: Vec<String> = h.responses_by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        table.row(&[
            e.series(many_hosts),
            r.scenario.clone(),
            r.batch_size.to_string(),
            format!("{} ({})", h.url, h.api),
            r.backend_settings.get("server").cloned().unwrap_or_else(|| "not said".into()),
            statuses.join(", "),
            h.timeouts.to_string(),
            num(per(h.bytes_sent), 2),
            num(per(h.bytes_received), 2),
            h.connections_opened.to_string(),
            num(h.client_cpu_us_per_request, 0),
        ]);
    }
    md.push_str(&table.finish());
    md.push('\n');
}
