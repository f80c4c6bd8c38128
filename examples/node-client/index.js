'use strict';
// The classic scheduler0 demo: create a project and JOB_COUNT jobs `@every 1m`, receive their
// signed callbacks on /callback, and count hits per job. After RUN_SECONDS every job should have
// been called the same number of times: the final report prints min = max.
//
// Configuration (environment, or a .env file next to this script; see .env.example):
//   API_ENDPOINT   scheduler0 API base        default http://127.0.0.1:9091/api/v1
//   API_KEY        from `scheduler0 create credential`   (required)
//   API_SECRET     from `scheduler0 create credential`   (required)
//   CALLBACK_HOST  host the node calls back   default 127.0.0.1
//   CALLBACK_PORT  port this program listens on  default 3000
//   JOB_COUNT      jobs to create             default 50000
//   BATCH_SIZE     jobs per POST /jobs        default 1000 (the API takes up to 10,000)
//   RUN_SECONDS    how long to count after the jobs exist  default 180
//   SETTLE_SECONDS extra wait for late deliveries before the final report  default 10
//   CLEANUP        delete the project and its jobs at the end  default true
//   ROTATE_AFTER_SECONDS  rotate the project's signing secret this long after the jobs exist,
//                  keeping the receiver on the old secret for half the grace period: no
//                  callback is refused meanwhile (0: no rotation)  default 0
//   ROTATE_GRACE_SECONDS  the rotation's grace period  default 60

const path = require('path');
require('dotenv').config({ path: path.join(__dirname, '.env'), quiet: true });
const axios = require('axios');
const express = require('express');
const { verifiedBy } = require('./verify');

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    fail(`${name}=${JSON.stringify(raw)} is not a whole number`);
  }
  return value;
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

const config = {
  apiEndpoint: (process.env.API_ENDPOINT || 'http://127.0.0.1:9091/api/v1').replace(/\/+$/, ''),
  apiKey: process.env.API_KEY || '',
  apiSecret: process.env.API_SECRET || '',
  callbackHost: process.env.CALLBACK_HOST || '127.0.0.1',
  callbackPort: intFromEnv('CALLBACK_PORT', 3000),
  jobCount: intFromEnv('JOB_COUNT', 50000),
  batchSize: Math.min(intFromEnv('BATCH_SIZE', 1000) || 1000, 10000),
  runSeconds: intFromEnv('RUN_SECONDS', 180),
  settleSeconds: intFromEnv('SETTLE_SECONDS', 10),
  cleanup: !/^(0|false|no)$/i.test(process.env.CLEANUP || 'true'),
  rotateAfterSeconds: intFromEnv('ROTATE_AFTER_SECONDS', 0),
  rotateGraceSeconds: intFromEnv('ROTATE_GRACE_SECONDS', 60),
};

if (!config.apiKey || !config.apiSecret) {
  fail('API_KEY and API_SECRET must be set: run `scheduler0 create credential`, copy ' +
       '.env.example to .env and fill in api_key and api_secret');
}

// ---- the API client ------------------------------------------------------------------------

const api = axios.create({
  baseURL: config.apiEndpoint,
  timeout: 120000,
  maxBodyLength: Infinity,
  maxContentLength: Infinity,
  headers: {
    'x-api-key': config.apiKey,
    'x-secret-key': config.apiSecret,
    'Content-Type': 'application/json',
  },
});

function describeError(err, what) {
  if (err.response) {
    const body = err.response.data;
    const detail = body && body.error ? JSON.stringify(body.error) : JSON.stringify(body);
    const hint = err.response.status === 401
      ? ' (check API_KEY and API_SECRET: `scheduler0 create credential`)' : '';
    return `${what}: HTTP ${err.response.status} ${detail}${hint}`;
  }
  if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ||
      err.code === 'ECONNRESET' || err.code === 'ETIMEDOUT' || err.code === 'ECONNABORTED') {
    return `${what}: cannot reach scheduler0 at ${config.apiEndpoint} (${err.code}). ` +
           'Is the node running (`scheduler0 start`) and API_ENDPOINT right?';
  }
  return `${what}: ${err.message}`;
}

async function call(what, request) {
  try {
    const reply = await request();
    return reply.data.data;
  } catch (err) {
    throw new Error(describeError(err, what));
  }
}

// ---- the receiver --------------------------------------------------------------------------

const state = {
  projectId: null,
  signingSecrets: [],       // the secrets this receiver accepts (the project's, as it knows it)
  verifiedBy: {},           // signature header -> POSTs it verified
  hits: new Map(),          // job id -> hits (executions scheduled within the window)
  executions: new Set(),    // execution ids seen (dedupe)
  duplicates: 0,            // executions delivered again (same execution_id)
  afterWindow: 0,           // executions scheduled after the counting window closed
  cutoff: Infinity,         // epoch seconds: ticks scheduled later are not counted
  rejected: 0,              // POSTs refused (bad signature, stale, not our project)
  posts: 0,
};

const app = express();
app.disable('x-powered-by');
app.post('/callback', express.raw({ type: () => true, limit: '50mb' }), (req, res) => {
  const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  // Either signature will do: X-Scheduler0-Signature (the current secret) or, for the grace
  // period after a rotation, X-Scheduler0-Signature-Previous (the secret it replaced).
  const header = verifiedBy(state.signingSecrets, (name) => req.get(name), rawBody);
  if (header === null) {
    state.rejected += 1;
    res.status(401).json({ error: 'bad or missing signature' });
    return;
  }
  let executions;
  try {
    executions = JSON.parse(rawBody.toString('utf8'));
  } catch (err) {
    state.rejected += 1;
    res.status(400).json({ error: 'body is not JSON' });
    return;
  }
  if (!Array.isArray(executions)) executions = [executions];
  state.posts += 1;
  state.verifiedBy[header] = (state.verifiedBy[header] || 0) + 1;
  for (const execution of executions) {
    if (state.executions.has(execution.execution_id)) {
      state.duplicates += 1;
      continue;
    }
    state.executions.add(execution.execution_id);
    const scheduledAt = Date.parse(execution.scheduled_at) / 1000;
    if (scheduledAt > state.cutoff) {
      state.afterWindow += 1;
      continue;
    }
    state.hits.set(execution.id, (state.hits.get(execution.id) || 0) + 1);
  }
  res.status(200).json({ ok: true });
});

// Failure notifications (the project's notification_url): a job that starts failing or
// missing, and that recovers. Signed exactly as callbacks are, so the same verifiedBy checks
// them; each carries a notification_id that a resend repeats, so seen ones are skipped.
const notificationsSeen = new Set();
app.post('/notifications', express.raw({ type: () => true, limit: '1mb' }), (req, res) => {
  const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (verifiedBy(state.signingSecrets, (name) => req.get(name), rawBody) === null) {
    res.status(401).json({ error: 'bad or missing signature' });
    return;
  }
  let event;
  try {
    event = JSON.parse(rawBody.toString('utf8'));
  } catch (err) {
    res.status(400).json({ error: 'body is not JSON' });
    return;
  }
  if (!notificationsSeen.has(event.notification_id)) {
    notificationsSeen.add(event.notification_id);
    console.log(`notification ${event.notification_id}: ${event.type} for job ${event.job_id}` +
                ` at ${event.scheduled_at} (${event.previous_state || 'no result'} -> ` +
                `${event.state}${event.error ? `: ${event.error}` : ''})`);
  }
  res.status(200).json({ ok: true });
});

function listen() {
  return new Promise((resolve, reject) => {
    const server = app.listen(config.callbackPort, config.callbackHost);
    server.once('listening', () => resolve(server));
    server.once('error', (err) => {
      reject(new Error(err.code === 'EADDRINUSE'
        ? `port ${config.callbackPort} is in use: set CALLBACK_PORT to a free port`
        : `cannot listen on ${config.callbackHost}:${config.callbackPort}: ${err.message}`));
    });
  });
}

// ---- the report ----------------------------------------------------------------------------

function report(label) {
  const histogram = new Map(); // hits -> jobs
  let min = Infinity;
  let max = 0;
  for (const count of state.hits.values()) {
    histogram.set(count, (histogram.get(count) || 0) + 1);
    if (count < min) min = count;
    if (count > max) max = count;
  }
  const unseen = Math.max(0, config.jobCount - state.hits.size);
  if (unseen > 0) {
    histogram.set(0, unseen);
    min = 0;
  }
  if (min === Infinity) min = 0;
  const rows = [...histogram.entries()].sort((a, b) => a[0] - b[0])
    .map(([hits, jobs]) => `${hits} hit${hits === 1 ? '' : 's'}: ${jobs} jobs`);
  console.log(`[${label}] jobs seen: ${state.hits.size} of ${config.jobCount}` +
              ` | histogram: {${rows.join(', ')}} | min: ${min} | max: ${max}` +
              ` | executions: ${state.executions.size} in ${state.posts} POSTs` +
              ` | duplicates: ${state.duplicates} | rejected: ${state.rejected}` +
              (state.afterWindow ? ` | after window: ${state.afterWindow}` : '') +
              (state.verifiedBy['X-Scheduler0-Signature-Previous']
                ? ` | verified by ${JSON.stringify(state.verifiedBy)}` : ''));
  return { min, max };
}

// ---- the demo ------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const server = await listen();
  const callbackUrl = `http://${config.callbackHost}:${config.callbackPort}/callback`;
  console.log(`receiving callbacks on ${callbackUrl}`);

  const notificationUrl = `http://${config.callbackHost}:${config.callbackPort}/notifications`;
  const project = await call('creating the project', () =>
    api.post('/projects', { name: `node-client-demo-${Date.now()}`,
                            notification_url: notificationUrl }));
  state.projectId = project.id;
  if (!project.signing_secret) throw new Error('the project reply carries no signing_secret');
  state.signingSecrets = [project.signing_secret];
  console.log(`project ${project.id} (${project.name}) created`);

  const started = Date.now();
  let created = 0;
  for (let offset = 0; offset < config.jobCount; offset += config.batchSize) {
    const batch = [];
    for (let i = offset; i < Math.min(offset + config.batchSize, config.jobCount); i += 1) {
      batch.push({
        project_id: project.id,
        spec: '@every 1m',
        callback_url: callbackUrl,
        data: JSON.stringify({ jobNumber: i }),
        timezone: 'America/New_York',
      });
    }
    const jobs = await call(`creating jobs ${offset + 1}-${offset + batch.length}`,
                            () => api.post('/jobs', batch));
    created += jobs.length;
  }
  const createdAt = Date.now();
  const seconds = (createdAt - started) / 1000;
  console.log(`${created} jobs created in ${seconds.toFixed(1)} s` +
              ` (${Math.round(created / Math.max(seconds, 0.001))} jobs/s)`);
  if (seconds + config.settleSeconds >= 60) {
    console.log('note: creating the jobs took close to a minute or more, so their first ticks ' +
                'are spread over that long; min and max may differ by one at the end');
  }

  // Count the ticks scheduled up to RUN_SECONDS after the last job was created: every job,
  // anchored at its creation, has then had exactly floor(RUN_SECONDS / 60) ticks.
  state.cutoff = Math.floor(createdAt / 1000) + config.runSeconds;
  const timer = setInterval(() => {
    report(`${Math.round((Date.now() - createdAt) / 1000)} s`);
  }, 15000);
  if (config.rotateAfterSeconds > 0) {
    setTimeout(() => rotate(project.id).catch((err) => fail(err.message)),
               config.rotateAfterSeconds * 1000);
  }
  await sleep((config.runSeconds + config.settleSeconds) * 1000);
  clearInterval(timer);
  const { min, max } = report('final');
  console.log(`expected ${Math.floor(config.runSeconds / 60)} hits per job: ` +
              (min === max ? `min = max = ${min}` : `min ${min} != max ${max}`));

  server.close();
  if (config.cleanup) {
    const deleted = await call('deleting the project',
      () => api.delete(`/projects/${project.id}`, { params: { cascade: true } }));
    console.log(`project ${project.id} deleted with ${deleted.jobs_deleted} jobs`);
  }
  return min === max ? 0 : 3;
}

// Rotate the project's secret, and go on verifying with the old one for half the grace period,
// as a receiver that is updated some time after the rotation: the callbacks keep verifying
// through X-Scheduler0-Signature-Previous until it switches to the new secret.
async function rotate(projectId) {
  const rotated = await call('rotating the signing secret', () => api.put(
    `/projects/${projectId}`,
    { rotate_signing_secret: true, grace_seconds: config.rotateGraceSeconds }));
  console.log(`signing secret rotated; the old one signs too until ` +
              `${rotated.previous_signing_secret_expires_at}`);
  setTimeout(() => {
    state.signingSecrets = [rotated.signing_secret];
    console.log('receiver switched to the new signing secret');
  }, (config.rotateGraceSeconds * 1000) / 2);
}

let interrupted = false;
process.on('SIGINT', async () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  report('interrupted');
  if (config.cleanup && state.projectId !== null) {
    try {
      await call('deleting the project',
        () => api.delete(`/projects/${state.projectId}`, { params: { cascade: true } }));
      console.log(`project ${state.projectId} deleted`);
    } catch (err) {
      console.error(`error: ${err.message}`);
    }
  }
  process.exit(130);
});

main().then((code) => process.exit(code)).catch((err) => fail(err.message));
