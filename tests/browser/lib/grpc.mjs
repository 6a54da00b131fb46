// What support staff do while a contact watches the portal, done over the services' real gRPC
// APIs (the repository's proto/ files, loaded at run time by @grpc/proto-loader) with the staff
// token the runner passes in HD_STAFF_TOKEN: reply to a ticket, add an internal note, read a
// ticket, change the portal settings. The portal itself is never called from here.
import { join } from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { env } from './portal.mjs';

const FILES = ['helpdesk/identity/v1/identity.proto', 'helpdesk/tickets/v1/tickets.proto', 'helpdesk/kb/v1/kb.proto'];

let loaded;
function proto() {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(FILES.map((f) => join(env('HD_PROTO_DIR'), f)), {
      includeDirs: [env('HD_PROTO_DIR')],
      // Field names as in the .proto files (snake_case), enums by name, defaults filled in.
      keepCase: true,
      enums: String,
      longs: String,
      defaults: true,
      oneofs: true,
    }),
  ).helpdesk;
  return loaded;
}

const clients = new Map();
/// One client per (service, address); the address variables hold `http://host:port`.
function client(pkg, service, addressVar) {
  const key = `${pkg}.${service}`;
  if (!clients.has(key)) {
    const address = env(addressVar).replace(/^https?:\/\//, '').replace(/\/$/, '');
    clients.set(key, new (proto()[pkg].v1[service])(address, grpc.credentials.createInsecure()));
  }
  return clients.get(key);
}

/// Calls `method` with the staff token; resolves to the answer, rejects with the gRPC status.
function call(pkg, service, addressVar, method, request, token = env('HD_STAFF_TOKEN')) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const stub = client(pkg, service, addressVar);
  return new Promise((resolve, reject) => {
    stub[method](request, metadata, { deadline: Date.now() + 15_000 }, (error, answer) =>
      error ? reject(new Error(`${service}.${method}: ${error.code} ${error.details}`)) : resolve(answer),
    );
  });
}

const tickets = (method, request) => call('tickets', 'TicketService', 'HD_TICKETS_GRPC', method, request);

/// An agent's reply on the ticket (the contact sees it).
export const replyAsAgent = (ticketId, text) => tickets('Reply', { ticket_id: ticketId, text });

/// An internal note (the contact must never see it).
export const addNote = (ticketId, text) => tickets('AddNote', { ticket_id: ticketId, text });

/// The ticket as staff see it.
export const getTicket = (ticketId) => tickets('GetTicket', { id: ticketId });

/// The ticket by its number (#1001 …), as staff see it.
export const getTicketByNumber = (number) => tickets('GetTicket', { number: String(number) });

/// Every message on the ticket (staff see notes too).
export const listMessages = async (ticketId) => (await tickets('ListMessages', { ticket_id: ticketId, page_size: 100 })).messages;

/// Logs support time on a ticket (draws down the group's balance).
export const logTime = (ticketId, minutes, note = 'work') => tickets('LogTime', { ticket_id: ticketId, minutes, note });

const settingsCall = (method, request) => call('identity', 'SettingsService', 'HD_IDENTITY_GRPC', method, request);

/// The portal settings now.
export const portalSettings = () => settingsCall('GetPortalSettings', {});

/// Changes some portal settings and keeps the rest, e.g. `{ signup_mode: 'SIGNUP_MODE_CLOSED' }`.
export async function setPortalSettings(changes) {
  const current = await portalSettings();
  delete current.updated_at;
  return settingsCall('UpdatePortalSettings', { settings: { ...current, ...changes } });
}

/// Runs `body` with some settings changed and puts the previous ones back afterwards, so one
/// test's setting cannot leak into the next.
export async function withPortalSettings(changes, body) {
  const before = await portalSettings();
  delete before.updated_at;
  await setPortalSettings(changes);
  try {
    return await body();
  } finally {
    await settingsCall('UpdatePortalSettings', { settings: before });
  }
}

/// Closes the gRPC channels so node can exit.
export function closeGrpc() {
  for (const c of clients.values()) c.close();
  clients.clear();
}
