// Reference outputs of the TF.js face graph models, run by the TF.js runtime itself.
//
// Usage (in a throwaway folder with `npm install @tensorflow/tfjs@4`; pure-JS CPU backend):
//   NODE_PATH=/tmp/face_ref/node_modules node tools/reference/face_reference.mjs INPUTS.json OUT.json
//
// INPUTS.json: {"models": {"<key>": {"json": "/path/model.json", "outputs": {"<out>": "<node>"},
//                                  "pooled": {"<out>": "<node>"}}},
//               "inputs": [{"name", "model", "shape": [N,H,W,C], "file": "/path/raw.f32"}]}
// Each input file holds little-endian float32 values (already preprocessed, NHWC).
// "outputs" are graph nodes fetched as they are; "pooled" nodes are averaged over H and W
// (tf.mean(x, [1, 2])), e.g. a mini-Xception's last block for its penultimate embedding.
// The model is loaded from the local files: model.json and its .bin shards are read here and
// handed to tf.loadGraphModel through tf.io.fromMemory (no network, no file:// handler).
// OUT.json: {"tfjs_version", "backend", "results": {"<input name>": {"<out>": {shape, data}}}}.
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';

const require = createRequire(process.env.NODE_PATH ? path.join(process.env.NODE_PATH, 'x.js') : import.meta.url);
const tf = require('@tensorflow/tfjs');

async function loadLocal(modelJson) {
  const spec = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const dir = path.dirname(modelJson);
  const weightSpecs = [];
  const buffers = [];
  for (const group of spec.weightsManifest) {
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = tf.io.fromMemory({
    modelTopology: spec.modelTopology, format: spec.format, generatedBy: spec.generatedBy,
    convertedBy: spec.convertedBy, weightSpecs, weightData,
  });
  return tf.loadGraphModel(handler);
}

async function main() {
  const [inputsPath, outPath] = process.argv.slice(2);
  if (!inputsPath || !outPath) throw new Error('usage: face_reference.mjs INPUTS.json OUT.json');
  await tf.setBackend('cpu');
  const req = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
  const models = {};
  for (const [key, m] of Object.entries(req.models)) models[key] = await loadLocal(m.json);
  const results = {};
  for (const inp of req.inputs) {
    const m = req.models[inp.model];
    const raw = fs.readFileSync(inp.file);
    const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const x = tf.tensor(values, inp.shape, 'float32');
    const names = Object.keys(m.outputs || {});
    const pooledNames = Object.keys(m.pooled || {});
    const nodes = [...names.map((n) => m.outputs[n]), ...pooledNames.map((n) => m.pooled[n])];
    const outs = models[inp.model].execute(x, nodes);
    const list = Array.isArray(outs) ? outs : [outs];
    const res = {};
    for (let i = 0; i < list.length; i++) {
      const isPooled = i >= names.length;
      const t = isPooled ? tf.mean(list[i], [1, 2]) : list[i];
      res[isPooled ? pooledNames[i - names.length] : names[i]] = { shape: t.shape, data: Array.from(await t.data()) };
    }
    results[inp.name] = res;
    tf.dispose([x, ...list]);
  }
  fs.writeFileSync(outPath, JSON.stringify({ tfjs_version: tf.version.tfjs, backend: tf.getBackend(), results }));
}

main().catch((e) => { console.error(e); process.exit(1); });
