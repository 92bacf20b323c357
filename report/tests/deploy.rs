//! The deploy files are checked as the schedulers would read them: the Slurm scripts parse with `bash -n`,
//! carry their `#SBATCH` lines and run `report --shard $SLURM_ARRAY_TASK_ID/N`, the merge after the
//! array; the Kubernetes manifest parses as YAML into an Indexed Job with the fields Kubernetes requires
//! and a merge Job. The YAML checker is shown to reject a manifest that lacks what it checks.
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("deploy")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn slurm_scripts_parse_and_carry_their_sbatch_lines() {
    let dir = deploy().join("slurm");
    for name in ["shard.sbatch", "merge.sbatch", "submit.sh"] {
        let path = dir.join(name);
        let o = std::process::Command::new("bash").arg("-n").arg(&path).output().expect("bash runs");
        assert!(o.status.success(), "bash -n {name}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let sbatch_lines = |text: &str| -> Vec<String> {
        // #SBATCH lines count only before the first command, as sbatch reads them.
        text.lines()
            .take_while(|l| l.starts_with('#') || l.trim().is_empty())
            .filter_map(|l| l.strip_prefix("#SBATCH ").map(str::to_string))
            .collect()
    };
    let shard = read(&dir.join("shard.sbatch"));
    let lines = sbatch_lines(&shard);
    for want in ["--array=0-", "--job-name=", "--cpus-per-task=", "--time="] {
        assert!(lines.iter().any(|l| l.starts_with(want)), "shard.sbatch lacks #SBATCH {want}: {lines:?}");
    }
    assert!(shard.contains("--shard \"$SLURM_ARRAY_TASK_ID/$N\""), "shard.sbatch does not run its shard");
    let merge = read(&dir.join("merge.sbatch"));
    assert!(
        sbatch_lines(&merge).iter().any(|l| l.starts_with("--job-name=")),
        "merge.sbatch has no #SBATCH lines"
    );
    assert!(merge.contains(" merge \"${dirs[@]}\""), "merge.sbatch does not merge the shards");
    let submit = read(&dir.join("submit.sh"));
    assert!(submit.contains("--array=\"0-$((N - 1))\""), "submit.sh does not submit the array 0-(N-1)");
    assert!(submit.contains("--dependency=\"afterok:$array\""), "submit.sh does not make the merge wait");
}

fn get<'a>(y: &'a Yaml, path: &[&str]) -> &'a Yaml {
    path.iter().fold(y, |y, k| &y[*k])
}

/// What Kubernetes requires of the sweep's Jobs, checked on the parsed documents; the error says which.
fn check_manifest(text: &str) -> Result<(), String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let jobs: Vec<&Yaml> = docs.iter().filter(|d| d["kind"].as_str() == Some("Job")).collect();
    let indexed: Vec<&&Yaml> =
        jobs.iter().filter(|j| get(j, &["spec", "completionMode"]).as_str() == Some("Indexed")).collect();
    let [shards] = indexed.as_slice() else {
        return Err(format!("{} Indexed Jobs, expected 1", indexed.len()));
    };
    let merge = jobs
        .iter()
        .find(|j| get(j, &["spec", "completionMode"]).as_str() != Some("Indexed"))
        .ok_or("no merge Job")?;
    for job in [*shards, merge] {
        let name = get(job, &["metadata", "name"]).as_str().ok_or("a Job without metadata.name")?;
        if job["apiVersion"].as_str() != Some("batch/v1") {
            return Err(format!("{name}: apiVersion is not batch/v1"));
        }
        let pod = get(job, &["spec", "template", "spec"]);
        match pod["restartPolicy"].as_str() {
            Some("Never" | "OnFailure") => {}
            other => return Err(format!("{name}: restartPolicy {other:?}, a Job needs Never or OnFailure")),
        }
        let containers =
            pod["containers"].as_vec().filter(|c| !c.is_empty()).ok_or(format!("{name}: no containers"))?;
        for c in containers {
            c["image"].as_str().ok_or(format!("{name}: a container without an image"))?;
            let cmd = c["command"].as_vec().filter(|v| !v.is_empty()).ok_or(format!("{name}: no command"))?;
            if cmd.iter().any(|a| a.as_str().is_none()) {
                return Err(format!("{name}: a command argument that is not a string"));
            }
        }
    }
    let completions = get(shards, &["spec", "completions"]).as_i64().ok_or("no spec.completions")?;
    let parallelism = get(shards, &["spec", "parallelism"]).as_i64().ok_or("no spec.parallelism")?;
    if completions < 1 || parallelism < 1 || parallelism > completions {
        return Err(format!("completions {completions}, parallelism {parallelism}"));
    }
    let script = |job: &Yaml| -> String {
        let c = &get(job, &["spec", "template", "spec", "containers"])[0];
        let env: Vec<String> = c["env"]
            .as_vec()
            .map(|v| {
                v.iter()
                    .map(|e| {
                        format!("{}={}", e["name"].as_str().unwrap_or(""), e["value"].as_str().unwrap_or(""))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let cmd: Vec<&str> = c["command"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
        format!("{} {}", env.join(" "), cmd.join(" "))
    };
    let (s, m) = (script(shards), script(merge));
    if !s.contains("--shard \"$JOB_COMPLETION_INDEX/$SHARDS\"")
        || !s.contains(&format!("SHARDS={completions}"))
    {
        return Err(format!("the shard pods do not run --shard $JOB_COMPLETION_INDEX/{completions}: {s}"));
    }
    if !m.contains(" merge ") || !m.contains(&format!("SHARDS={completions}")) {
        return Err(format!("the merge Job does not merge {completions} shards: {m}"));
    }
    Ok(())
}

#[test]
fn the_kubernetes_manifest_is_an_indexed_job_with_a_merge() {
    let text = read(&deploy().join("k8s").join("sweep.yaml"));
    check_manifest(&text).unwrap();
    // The checker fails a manifest that lacks what it checks.
    for (from, to) in [
        ("completionMode: Indexed", "completionMode: NonIndexed"),
        ("restartPolicy: Never", "restartPolicy: Always"),
        (
            "          image: gradlab-report:latest\n          env:\n            - name: SHARDS\n              value: \"8\"\n            - name: REPORT_ARGS\n              value: \"--scenarios scenarios/sweeps --only",
            "          env:\n            - name: SHARDS\n              value: \"8\"\n            - name: REPORT_ARGS\n              value: \"--scenarios scenarios/sweeps --only",
        ),
        ("completions: 8", "completions: 4"),
        (
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: gradlab-merge",
            "apiVersion: batch/v2\nkind: Job\nmetadata:\n  name: gradlab-merge",
        ),
        ("  parallelism: 8", "  parallelism: [8"),
    ] {
        assert!(text.contains(from), "the mutation `{from}` no longer applies");
        let bad = text.replacen(from, to, 1);
        assert!(check_manifest(&bad).is_err(), "accepted a manifest with `{to}`");
    }
}

#[test]
fn the_container_file_builds_the_report_binary() {
    let text = read(&deploy().join("Containerfile"));
    assert!(text.contains("cargo build --release --locked -p report"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("ENTRYPOINT") && l.contains("report")), "{text}");
    for dir in ["scenarios", "data"] {
        assert!(text.contains(&format!("COPY {dir} ")), "the image lacks {dir}/");
    }
}
