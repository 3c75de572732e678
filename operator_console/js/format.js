// How values read on screen, shared by every console page: times, dates,
// numbers and durations in pt-BR, Brazilian phones and documents, attendance
// statuses. Each formatter takes
// any value the service may send (null, negative, huge, unknown) and shows
// something readable.

export function formatTime(iso) {
  const date = iso ? new Date(iso) : null;
  return date && !Number.isNaN(date.getTime()) ? date.toLocaleString("pt-BR") : "—";
}

const NUMBER = new Intl.NumberFormat("pt-BR", { maximumFractionDigits: 1 });

// A count or a measure as people in Brazil write it: 1234.5 -> "1.234,5".
export function formatNumber(value) {
  return typeof value === "number" && Number.isFinite(value) ? NUMBER.format(value) : "—";
}

const ISO_DAY = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

// A calendar day the service sends ("2026-12-01") as "01/12/2026"; read as
// written, never through a Date (which would shift it by the time zone).
// ``short``: without the year ("01/12"), for a chart's axis.
export function formatDate(day, { short = false } = {}) {
  const parts = ISO_DAY.exec(String(day ?? ""));
  if (!parts) return "—";
  const [, year, month, date] = parts;
  return short ? `${date}/${month}` : `${date}/${month}/${year}`;
}

const PT_BR_DAY = /^([0-9]{1,2})\/([0-9]{1,2})\/([0-9]{4})$/;

// A day typed as people in Brazil write it ("1/12/2026", "01/12/2026") as
// the service reads it ("2026-12-01"); null unless it is a real day.
export function parseDate(text) {
  const parts = PT_BR_DAY.exec(String(text ?? "").trim());
  if (!parts) return null;
  const [date, month, year] = parts.slice(1).map(Number);
  const day = new Date(Date.UTC(year, month - 1, date));
  if (day.getUTCDate() !== date || day.getUTCMonth() !== month - 1) return null;
  return day.toISOString().slice(0, 10);
}

// A duration in seconds. Negative or not a number: no duration ("—").
export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "—";
  const total = Math.round(seconds);
  const d = Math.floor(total / 86400), h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60), s = total % 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return m ? `${m} min ${s} s` : `${s} s`;
}

const onlyDigits = (value) => String(value ?? "").replace(/[^0-9]/g, "");

// A Brazilian phone (E.164 "+5511930936457", or national digits) as people
// write it, "(11) 93093-6457"; anything else as it came.
export function formatPhone(value) {
  if (value === null || value === undefined || value === "") return "";
  let national = onlyDigits(value);
  const international = String(value).trim().startsWith("+");
  if (international && !national.startsWith("55")) return String(value);
  if ((international || national.length > 11) && national.startsWith("55")) national = national.slice(2);
  if (national.length !== 10 && national.length !== 11) return String(value);
  const area = national.slice(0, 2), number = national.slice(2);
  const split = number.length - 4;
  return `(${area}) ${number.slice(0, split)}-${number.slice(split)}`;
}

// CPF "528.270.916-31", CNPJ "12.345.678/0001-95" (letters allowed since
// 2026, as handoff/domain/brazil.py takes them); anything else as it came.
export function formatDocument(value) {
  if (value === null || value === undefined) return "";
  const raw = String(value);
  const plain = raw.replace(/[.\-/\s]/g, "").toUpperCase();
  if (/^[0-9]{11}$/.test(plain)) {
    return `${plain.slice(0, 3)}.${plain.slice(3, 6)}.${plain.slice(6, 9)}-${plain.slice(9)}`;
  }
  if (/^[0-9A-Z]{12}[0-9]{2}$/.test(plain)) {
    return `${plain.slice(0, 2)}.${plain.slice(2, 5)}.${plain.slice(5, 8)}/${plain.slice(8, 12)}-${plain.slice(12)}`;
  }
  return raw;
}

// Every status an attendance has in the service (handoff/models.py).
export const ATTENDANCE_STATUS = {
  queued: "Na fila",
  active: "Em atendimento",
  finished: "Finalizado",
  cancelled: "Cancelado",
  abandoned: "Abandonado pelo cliente",
};

export function attendanceStatus(status) {
  return ATTENDANCE_STATUS[status] || (status ? `Situação “${status}”` : "Situação desconhecida");
}
