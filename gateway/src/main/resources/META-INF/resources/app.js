// The gateway's web page: plain JS over the public HTTP API (docs/fleet-contract.md). The API key stays
// in this browser's localStorage and goes out as "Authorization: Bearer". Progress comes from the
// job's Server-Sent Events, read with fetch (EventSource cannot send an Authorization header).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const TERMINAL = ["SUCCEEDED", "FAILED", "CANCELLED"];
  let stream = null;

  function key() { return $("api-key").value.trim(); }

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers = Object.assign({ Authorization: "Bearer " + key() }, opts.headers);
    const res = await fetch(path, opts);
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = { detail: text }; }
    if (!res.ok) {
      const violations = body && body.violations
        ? body.violations.map((v) => v.field + ": " + v.message).join("\n") : "";
      throw new Error(res.status + " " + ((body && (body.detail || body.title)) || res.statusText)
        + (violations ? "\n" + violations : ""));
    }
    return body;
  }

  function showError(e) { $("error").textContent = e ? String(e.message || e) : ""; }

  async function loadModels() {
    const body = await api("/v1/models");
    const fill = (select, kind) => {
      select.textContent = "";
      body.models.filter((m) => m.kind === kind).forEach((m) => {
        const o = document.createElement("option");
        o.value = m.name; o.textContent = m.name; select.appendChild(o);
      });
    };
    fill($("base-model"), "base");
    fill($("motion-module"), "motion");
    // the miniature world's trained models are the default where registered (local mode)
    const prefer = (select, name) => {
      if ([...select.options].some((o) => o.value === name)) select.value = name;
    };
    prefer($("base-model"), "world-personalized");
    prefer($("motion-module"), "world-motion");
    $("connection").textContent = body.models.length + " models";
  }

  function request() {
    const r = {
      prompt: $("prompt").value,
      negative_prompt: $("negative-prompt").value,
      base_model: $("base-model").value,
      motion_module: $("motion-module").value,
      num_frames: Number($("frames").value),
      width: Number($("width").value),
      height: Number($("height").value),
      num_inference_steps: Number($("steps").value),
      guidance_scale: Number($("guidance").value),
      scheduler: $("scheduler").value,
      fps: Number($("fps").value),
      output_formats: ["gif", "mp4"],
    };
    if ($("seed").value !== "") { r.seed = Number($("seed").value); }
    return r;
  }

  function render(view) {
    $("job-id").textContent = view.job_id;
    $("status").textContent = view.status;
    const p = view.progress || { step: 0, total: 0 };
    $("progress").max = Math.max(1, p.total);
    $("progress").value = p.step;
    $("progress-text").textContent = p.total ? "step " + p.step + " / " + p.total : "";
    const result = $("result");
    result.textContent = "";
    if (view.status === "SUCCEEDED") {
      (view.results || []).forEach((r) => {
        if (r.format === "gif") {
          const img = document.createElement("img");
          img.id = "animation"; img.alt = "animation of job " + view.job_id; img.src = r.url;
          result.appendChild(img);
        } else {
          const a = document.createElement("a");
          a.href = r.url; a.textContent = "download " + r.format; a.className = "download";
          result.appendChild(document.createElement("br")); result.appendChild(a);
        }
      });
    } else if (view.failure) {
      result.textContent = view.failure.code + ": " + view.failure.reason;
    }
  }

  // Reads the SSE stream of one job until a terminal event; falls back to one GET when it breaks.
  async function follow(jobId) {
    if (stream) { stream.abort(); }
    $("job-section").dataset.events = "0";
    const controller = new AbortController();
    stream = controller;
    try {
      const res = await fetch("/v1/jobs/" + jobId + "/events", {
        headers: { Authorization: "Bearer " + key(), Accept: "text/event-stream" },
        signal: controller.signal,
      });
      if (!res.ok) { throw new Error("events: " + res.status); }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) { break; }
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
          const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).replace(/^ /, "")).join("\n");
          if (data) {
            const view = JSON.parse(data);
            const section = $("job-section");
            section.dataset.events = String(Number(section.dataset.events || "0") + 1);
            render(view);
            if (TERMINAL.includes(view.status)) { controller.abort(); refreshJobs(); return; }
          }
        }
      }
    } catch (e) {
      if (e.name === "AbortError") { return; }
    }
    try { render(await api("/v1/jobs/" + jobId)); } catch (e) { showError(e); }
    refreshJobs();
  }

  async function refreshJobs() {
    try {
      const body = await api("/v1/jobs?size=20");
      const tbody = $("job-list");
      tbody.textContent = "";
      body.jobs.forEach((j) => {
        const tr = document.createElement("tr");
        tr.className = "clickable"; tr.dataset.jobId = j.job_id;
        const p = j.progress ? j.progress.step + "/" + j.progress.total : "";
        [j.job_id, j.status, p, j.created_at || ""].forEach((t) => {
          const td = document.createElement("td"); td.textContent = t; tr.appendChild(td);
        });
        tr.addEventListener("click", () => follow(j.job_id));
        tbody.appendChild(tr);
      });
    } catch (e) { showError(e); }
  }

  async function connect() {
    showError(null);
    localStorage.setItem("animatediff.apiKey", key());
    try { await loadModels(); await refreshJobs(); } catch (e) { $("connection").textContent = ""; showError(e); }
  }

  $("connect").addEventListener("click", connect);
  $("refresh").addEventListener("click", refreshJobs);
  $("job-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(null);
    try {
      const accepted = await api("/v1/animations", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(request()),
      });
      render({ job_id: accepted.job_id, status: accepted.status, progress: null });
      refreshJobs();
      follow(accepted.job_id);
    } catch (e) { showError(e); }
  });
  const saved = localStorage.getItem("animatediff.apiKey");
  if (saved) { $("api-key").value = saved; connect(); }
})();
