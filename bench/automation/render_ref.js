// render_ref.js CONTEXTS.json - the rendering twin of bench/automation/render.c in
// mustache.js (Debian's node-mustache, the reference JavaScript implementation),
// on the template and contexts render_ref.py wrote (the same as render.c's).
// The template is parsed once (Mustache.parse, cached); only Mustache.render
// over the prebuilt contexts is timed, after one untimed pass over them (the
// JIT warm-up). Customer 4's output is checked as render.c checks it.
// Prints one JSON line: {"renders", "s", "renders_per_s", "avg_output_bytes"}.
"use strict";
const fs = require("fs");
let Mustache;
try {
    Mustache = require("mustache");
} catch (e) {
    Mustache = require("/usr/share/nodejs/mustache");
}

const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const tmpl = input.template, ctx = input.contexts;
Mustache.parse(tmpl);
const out4 = Mustache.render(tmpl, ctx[4]);
// (mustache.js also escapes "/" as &#x2F; in {{url}})
for (const want of ["Hi Tom &amp; Jerry,", "customer4@example.com",
                    '<a href="https://corner.example/u?c=4&t=', "corner.example&#x2F;p&#x2F;"]) {
    if (!out4.includes(want) || out4.includes("{{")) {
        console.error("render_ref.js: unexpected output (missing " + want + "):\n" + out4);
        process.exit(1);
    }
}
for (const c of ctx) Mustache.render(tmpl, c); // warm-up
let total = 0;
const t0 = process.hrtime.bigint();
for (const c of ctx) total += Buffer.byteLength(Mustache.render(tmpl, c), "utf8");
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({renders: ctx.length, s: Math.round(s * 1000) / 1000,
                            renders_per_s: Math.round(ctx.length / s),
                            avg_output_bytes: Math.round(total / ctx.length)}));
