//! `gengpu info`: the adapters wgpu sees, what gengpu needs of each against what it offers,
//! and which one each choice uses.

use anyhow::{Context, Result};

use gengpu::backend::gpu::{
    AdapterChoice, AdapterList, AdapterSummary, GpuBackend, NO_AUTOTUNE_VARIABLE, Rule,
    cached_winners, list_adapters, tuning_cache_path,
};
use gengpu::backend::select::{BackendChoice, adapter_choice};

pub fn run(json: bool) -> Result<()> {
    let list = list_adapters().context("cannot list the adapters")?;
    let gpu = uses(&list, BackendChoice::Gpu, "--backend gpu")?;
    let auto = uses(&list, BackendChoice::Auto, "--backend auto")?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report(&list, &gpu, &auto))?
        );
        return Ok(());
    }
    outln!("APIs: {}", list.apis);
    outln!("device limits: {}", list.mode);
    if list.adapters.is_empty() {
        outln!("no GPU adapter found: --backend auto uses the CPU backend");
        outln!("(on Debian, `apt-get install mesa-vulkan-drivers` gives a software Vulkan device)");
        return Ok(());
    }
    for adapter in &list.adapters {
        print_adapter(adapter)?;
    }
    outln!(
        "needs: (sizes) as much as offered, each buffer and dispatch checked against it; \
         (smaller) smaller is better"
    );
    outln!("{gpu}");
    outln!("{auto}");
    outln!(
        "--adapter INDEX|NAME chooses another adapter, WGPU_BACKEND=vulkan|metal|dx12|gl the \
         APIs, GENGPU_LIMITS=downlevel opens at the downlevel defaults"
    );
    Ok(())
}

/// What gengpu needs of a limit: a number, or as much as offered, or as small as offered.
fn needs(rule: &Rule) -> serde_json::Value {
    match rule {
        Rule::Needs(n) => (*n).into(),
        Rule::Sizes => "as offered".into(),
        Rule::Alignment => "smaller is better".into(),
    }
}

/// `info --json`: the same as the table, as one document.
fn report(list: &AdapterList, gpu: &str, auto: &str) -> serde_json::Value {
    let adapters: Vec<serde_json::Value> = list
        .adapters
        .iter()
        .map(|a| {
            let limits: Vec<serde_json::Value> = a
                .limits
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "name": l.name,
                        "downlevel": l.downlevel,
                        "needs": needs(&l.rule),
                        "asks": l.asked,
                        "offers": l.offered,
                    })
                })
                .collect();
            let lacks: Vec<String> = a.shortfalls.iter().map(ToString::to_string).collect();
            let winners: serde_json::Map<String, serde_json::Value> = cached_winners(a)
                .into_iter()
                .map(|(class, variant)| (class, variant.into()))
                .collect();
            serde_json::json!({
                "index": a.index,
                "name": a.name,
                "backend": a.backend,
                "device_type": a.device_type,
                "driver": a.driver,
                "hardware": a.hardware,
                "limits": limits,
                "cannot_run": lacks,
                "subgroup_lanes": a.subgroup_lanes,
                "matmul_variants": GpuBackend::matmul_variants_for(a.subgroup_lanes),
                "matmul_winners": winners,
            })
        })
        .collect();
    serde_json::json!({
        "apis": list.apis,
        "device_limits": list.mode.to_string(),
        "adapters": adapters,
        "backend_gpu": gpu,
        "backend_auto": auto,
    })
}

fn print_adapter(a: &AdapterSummary) -> Result<()> {
    outln!(
        "[{}] {} — {} {} ({})",
        a.index,
        a.name,
        a.backend,
        a.device_type,
        a.driver
    );
    let mut table = vec![["limit", "downlevel", "needs", "asks", "offers"].map(String::from)];
    for l in &a.limits {
        let needs = match l.rule {
            Rule::Needs(n) => value(l.name, n),
            Rule::Sizes => "(sizes)".into(),
            Rule::Alignment => "(smaller)".into(),
        };
        table.push([
            l.name.to_string(),
            value(l.name, l.downlevel),
            needs,
            value(l.name, l.asked),
            value(l.name, l.offered),
        ]);
    }
    let mut widths = [0; 5];
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in &table {
        let numbers: Vec<String> = row[1..]
            .iter()
            .zip(&widths[1..])
            .map(|(cell, &w)| format!("{cell:>w$}"))
            .collect();
        outln!("      {:w$}  {}", row[0], numbers.join("  "), w = widths[0]);
    }
    if !a.shortfalls.is_empty() {
        let lacks: Vec<String> = a.shortfalls.iter().map(ToString::to_string).collect();
        outln!("      cannot run gengpu: {}", lacks.join("; "));
    }
    let subgroups = match a.subgroup_lanes {
        Some(lanes) => format!("{lanes} lanes"),
        None => "none of one fixed width".into(),
    };
    outln!(
        "      subgroups: {subgroups}; matmul variants: {}",
        GpuBackend::matmul_variants_for(a.subgroup_lanes).join(", ")
    );
    print_tuning(a)
}

/// The matmul variants autotuning chose on this adapter and driver (from the cache file).
fn print_tuning(a: &AdapterSummary) -> Result<()> {
    let winners = cached_winners(a);
    if winners.is_empty() {
        outln!(
            "      matmul autotuning: nothing tuned yet (the first run times the variants; \
             --no-autotune or {NO_AUTOTUNE_VARIABLE}=1 keeps the defaults)"
        );
        return Ok(());
    }
    let file = tuning_cache_path().map_or_else(String::new, |p| format!(" ({})", p.display()));
    outln!("      matmul autotuning winners{file}:");
    for (class, variant) in winners {
        outln!("        {class:<64} {variant}");
    }
    Ok(())
}

/// A limit's value, in MiB or KiB where it is a whole number of them and a size in bytes.
fn value(name: &str, v: u64) -> String {
    let bytes = name.ends_with("_size");
    if bytes && v > 0 && v.is_multiple_of(1 << 20) {
        format!("{} MiB", v >> 20)
    } else if bytes && v > 0 && v.is_multiple_of(1 << 10) {
        format!("{} KiB", v >> 10)
    } else if bytes {
        format!("{v} B")
    } else {
        v.to_string()
    }
}

/// Which adapter `choice` (without `--adapter`) uses, as `flag` says it.
fn uses(list: &AdapterList, choice: BackendChoice, flag: &str) -> Result<String> {
    let Some((adapter, _)) = adapter_choice(choice, None)? else {
        return Ok(format!("{flag} uses the CPU backend"));
    };
    Ok(match (list.choose(&adapter), &adapter) {
        (Ok(i), AdapterChoice::Named(name)) => {
            format!("{flag} uses {} ({name})", list.adapters[i].label())
        }
        (Ok(i), AdapterChoice::HardwareOnly) => {
            format!("{flag} uses {} (a hardware GPU)", list.adapters[i].label())
        }
        (Ok(i), AdapterChoice::Any) => format!("{flag} uses {}", list.adapters[i].label()),
        (Err(e), AdapterChoice::HardwareOnly) => format!(
            "{flag} uses the CPU backend ({e}; a software GPU would be slower than the CPU \
             backend)"
        ),
        (Err(e), _) => format!("{flag} fails: {e}"),
    })
}
