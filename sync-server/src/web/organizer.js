"use strict";
const $ = (id) => document.getElementById(id);
const STRINGS = {
  en: {
    title: "Parent Mentor hours", period: "Period", current: "current", language: "Language", refresh: "Refresh", csv: "Download CSV", signout: "Sign out", sections: "Sections", token: "Organizer token",
    signin: "Sign in", signin_help: "Paste the organizer token you were given (from sync-server organizer add).",
    overview: "Overview", payments: "Payments", kiosks: "Kiosks", reports: "Reports",
    schools: "Schools", unpaid: "Eligible and not yet paid", unpaid_hint: "Every period, until the stipend is paid.",
    review: "Needs review", review_hint: "These hours earn nothing until someone decides. Every decision is kept with your name and reason.",
    mentors: "Mentors", approve_selected: "Approve selected", reason: "Reason (required)", bulk_reason: "Reason for the selected items",
    mentor: "Mentor", school: "School", hours: "Hours", eligible_since: "Eligible since", record_payment: "Record payment", date: "Date", times: "Times", why: "Why", actions: "Actions", select: "Select",
    progress: "Progress", days: "Days", sessions: "Sessions", paid_on: "Paid on", teacher: "Teacher", classroom: "Classroom", status: "Status", search: "Search", all: "All",
    amount: "Amount", amount_for: "Amount for {0}", paid_date: "Paid on", reference: "Check / reference", mark_paid: "Mark paid",
    nobody_waiting: "Nobody is waiting for a stipend.", nothing_to_review: "Nothing to review.", no_mentors: "No mentors in your schools yet.", no_match: "No mentor matches.",
    card_counts: "{0} mentors · {1} eligible", card_counts_one: "{0} mentor · {1} eligible", card_flags: "{0} to pay · {1} need review", of_hours: "{0} of {1} hours",
    card_active: "{0} with hours this period · {1} hours", card_kiosks: "{0} kiosks · {1} silent for 24 h", card_kiosks_one: "{0} kiosk · {1} silent for 24 h",
    approve: "Approve", set_times: "Set times", void: "Void", accept: "Accept", reject: "Reject", save_times: "Save times", start: "Start", end: "End",
    reason_for: "Reason for {0}", select_item: "Select {0}", still_open: "still open", need_reason: "Write a reason first.",
    saved: "Saved.", approved_n: "{0} approved.", could_not_load: "Could not load: {0}", could_not_pay: "Could not record the payment: {0}", err_outcome_unknown: "the connection to the database was lost while saving, so this may have been recorded. Reload the page and check before trying again.", err_unavailable: "the database cannot be reached right now. Try again in a moment.", err_busy: "the database is busy with other changes and nothing was recorded. Try again.", could_not_resolve: "Could not save: {0}",
    not_accepted: "That token was not accepted.",
    replace_signin: "This link signs in with another token. Sign out of the current one and use it?", paid_for: "Payment recorded for {0}.",
    r_open: "checked in, never checked out", r_check_out_without_check_in: "checked out with no check-in", r_over_cap: "longer than a session may be",
    r_across_midnight: "runs past midnight", r_end_before_start: "ends before it starts", r_implausible_date: "impossible date",
    r_unverified_badge: "badge not verified", r_kiosk_clock_skew: "the kiosk's clock was wrong", r_overlap: "overlaps another session of hers",
    r_closed_twice: "closed twice, or changed after it was closed", r_set_aside: "set aside by the server", r_coordinator_classroom: "classroom time a coordinator entered: confirm it", r_late_delivery: "reached the server long after it happened: check it",
    err_item_changed: "this item changed since the page was loaded (someone else decided it or changed its times). It has been reloaded: look at it again.",
    bulk_result: "{0} approved; {1} had changed since the page was loaded and were reloaded; {2} could not be saved.",
    enter_time: "Enter time after the fact", enter_hint: "A broken kiosk, a camera that would not read, a field trip, a paper sign-in sheet: enter the real time here. It is credited like any other session, under your name and reason.",
    add_line: "Add another mentor", remove_line: "Remove", enter_save: "Save the sessions", entered_n: "{0} sessions entered.", entered_n_one: "{0} session entered.",
    need_mentor: "Choose a mentor, a start and an end on every line.", could_not_enter: "Could not enter the sessions: {0}", line_for: "{0} on line {1}",
    decides: "Decides {0}", reversed: "reversed", reverse: "Reverse", reverse_reason_for: "Reason for reversing this decision", reversed_ok: "The decision was reversed.",
    s_unknown_mentor: "mentor not on the roster", s_not_at_school: "not at that school on that day", s_visit: "a visit: her badge at another school", s_badge_replaced: "old badge, replaced",
    s_badge_mismatch: "badge does not match", s_scan_unproven: "the scan carries no proof that the badge was read", s_no_such_badge: "no such badge", s_organizer_only: "only organizers may do this", s_resolved_by_organizer: "an organizer had already decided",
    s_not_a_coordinator: "not a coordinator of that school then", s_over_cap: "longer than a session may be", s_in_the_future: "in the future", s_too_old: "entered too long after", s_end_before_start: "ends before it starts", s_text_too_long: "text too long", s_text_unreadable: "text with control characters",
    "s_instant_out_of_range:at": "impossible date", "s_instant_out_of_range:start": "impossible start", "s_instant_out_of_range:end": "impossible end",
    entries: "Coordinator entries", entries_hint: "Everything a coordinator entered at a kiosk, and the time organizers entered after the fact: who, where, when, why and what it changed. Void an entry that should not count.",
    when: "When", kiosk: "Kiosk", coordinator: "Coordinator", what: "What", no_entries: "No coordinator entries.", set_aside_label: "set aside: {0}",
    a_check_in: "check-in without badge", a_check_out: "check-out without badge", a_close: "closed a session", a_set_times: "set times", a_void: "voided", a_add_session: "added a session", a_approve: "approved", a_accept: "accepted", a_reject: "rejected", a_other: "other",
    weeks_chart: "Hours per week, last 12 weeks", weeks_label: "Hours credited per week for the last 12 weeks: {0}", week_of: "Week of {0}",
    bands_chart: "Mentors by progress toward {0} hours", bands_label: "Mentors by share of the threshold reached: {0}", band: "Progress", band_mentors: "Mentors", mentors_n: "{0} mentors", mentors_n_one: "{0} mentor",
    clearances_due: "Clearances to renew", clearances: "Clearances", no_clearances: "No clearance expires within 30 days.", kind: "Kind", expires: "Good through",
    c_expired: "expired", c_expiring: "expires in {0} days", c_expiring_one: "expires in {0} day", c_expiring_today: "last day today", c_current: "current",
    k_background_check: "background check", "k_background-check": "background check", "k_tb-test": "TB test", "k_initial-training": "initial training",
    ledger: "Paid", ledger_csv: "Download the payments ledger (CSV)", no_payments: "No payments recorded.", recorded_by: "Recorded by", voided: "voided by {0}: {1}", void_payment: "Void payment", void_reason_for: "Reason for voiding the payment to {0}", payment_voided: "Payment voided.",
    back_to_mentors: "Back to the mentors", periods: "Periods", corrections: "Corrections", no_sessions: "No sessions.", no_corrections: "No corrections.", no_mentor_payments: "No payments.", no_mentor_clearances: "No clearances recorded.",
    category: "Category", credited: "Credited hours", who: "Who", role_coordinator: "coordinator", role_organizer: "organizer", threshold: "Threshold", eligible_on: "Eligible on", active: "Active", inactive: "inactive", yes: "yes", no: "no",
    st_credited: "credited", st_open: "no check-out yet", st_needs_review: "needs review", st_set_aside: "set aside",
    cat_classroom: "classroom", cat_training: "training", cat_workshop: "workshop", cat_community: "community",
    f_all: "Everyone", f_to_pay: "Eligible, not paid", f_eligible: "Eligible", f_progress: "Working toward it", f_review: "Needs review", f_inactive: "Inactive", f_none: "No classroom",
    kiosks_hint: "What each kiosk reported at its last sync. A kiosk not heard from in 24 hours is marked.", last_sync: "Last sync", waiting: "Events waiting", clock_offset: "Clock offset", app_version: "Version", camera: "Camera", last_scan: "Last scan",
    pins: "Coordinator PINs", pins_hint: "PINs set before they had 8 digits, and PINs that were on a lost kiosk, need a new one: tell the coordinator her new PIN.",
    pin_weak: "weak PIN (fewer than 8 digits): set a new one", pin_exposed: "was on a lost kiosk ({0}): set a new PIN", pin_refused: "was on a lost kiosk: the kiosks refuse it until a new one is set",
    set_pin: "Set new PIN", new_pin_for: "New PIN for {0} (8 digits or more)", pin_saved: "New PIN saved for {0}: the kiosks take it at their next sync.", pin_not_saved: "The PIN was not saved: {0}", no_coordinators: "No coordinators yet.",
    scan_proof: "Scan proof", proves_scans: "proves every scan", unproven_scans: "may send unproven scans: update this kiosk",
    silent: "Silent for more than 24 hours", never: "never", cam_ok: "working", "cam_not-working": "not working", cam_unknown: "unknown", seconds: "{0} s", no_kiosks: "No kiosks yet.", revoked: "revoked",
    program_report: "Program report for funders", program_hint: "Per school and in all: active mentors, who reached the threshold, hours by category, days, stipends paid and the in-kind value of the hours. A period, or a span of dates.",
    from: "From", to: "To", show: "Show", download_csv: "Download CSV", download_xlsx: "Download XLSX", hours_report: "Hours per mentor",
    p_active_mentors: "Active mentors", p_reached_threshold: "Reached the threshold", p_classroom_hours: "Classroom hours", p_training_hours: "Training hours", p_workshop_hours: "Workshop hours", p_community_hours: "Community hours",
    p_days: "Mentor-days", p_avg_hours_per_mentor: "Average hours per mentor", p_stipends_paid: "Stipends paid", p_stipend_amount: "Amount paid", p_in_kind_value: "In-kind value", all_schools: "All schools"
  },
  es: {
    title: "Horas de Padres Mentores", period: "Período", current: "actual", language: "Idioma", refresh: "Actualizar", csv: "Descargar CSV", signout: "Salir", sections: "Secciones", token: "Código de organizadora",
    signin: "Entrar", signin_help: "Pegue el código de organizadora que le dieron (de sync-server organizer add).",
    overview: "Resumen", payments: "Pagos", kiosks: "Quioscos", reports: "Informes",
    schools: "Escuelas", unpaid: "Con derecho y sin pagar", unpaid_hint: "Todos los períodos, hasta que se pague el estipendio.",
    review: "Por revisar", review_hint: "Estas horas no cuentan hasta que alguien decida. Cada decisión queda guardada con su nombre y motivo.",
    mentors: "Mentoras", approve_selected: "Aprobar seleccionadas", reason: "Motivo (obligatorio)", bulk_reason: "Motivo para las seleccionadas",
    mentor: "Mentora", school: "Escuela", hours: "Horas", eligible_since: "Con derecho desde", record_payment: "Registrar pago", date: "Fecha", times: "Horario", why: "Por qué", actions: "Acciones", select: "Elegir",
    progress: "Progreso", days: "Días", sessions: "Sesiones", paid_on: "Pagado el", teacher: "Maestra", classroom: "Salón", status: "Estado", search: "Buscar", all: "Todas",
    amount: "Monto", amount_for: "Monto para {0}", paid_date: "Pagado el", reference: "Cheque / referencia", mark_paid: "Marcar pagado",
    nobody_waiting: "Nadie espera un estipendio.", nothing_to_review: "No hay nada por revisar.", no_mentors: "Todavía no hay mentoras en sus escuelas.", no_match: "Ninguna mentora coincide.",
    card_counts: "{0} mentoras · {1} con derecho", card_counts_one: "{0} mentora · {1} con derecho", card_flags: "{0} por pagar · {1} por revisar", of_hours: "{0} de {1} horas",
    card_active: "{0} con horas este período · {1} horas", card_kiosks: "{0} quioscos · {1} sin noticias en 24 h", card_kiosks_one: "{0} quiosco · {1} sin noticias en 24 h",
    approve: "Aprobar", set_times: "Cambiar horario", void: "Anular", accept: "Aceptar", reject: "Rechazar", save_times: "Guardar horario", start: "Entrada", end: "Salida",
    reason_for: "Motivo para {0}", select_item: "Elegir {0}", still_open: "sigue abierta", need_reason: "Escriba primero un motivo.",
    saved: "Guardado.", approved_n: "{0} aprobadas.", approved_n_one: "{0} aprobada.", could_not_load: "No se pudo cargar: {0}", could_not_pay: "No se pudo registrar el pago: {0}", err_outcome_unknown: "se perdió la conexión con la base de datos al guardar, así que puede que sí se haya registrado. Vuelva a cargar la página y revise antes de intentarlo de nuevo.", err_unavailable: "no se puede acceder a la base de datos en este momento. Inténtelo de nuevo en un momento.", err_busy: "la base de datos está ocupada con otros cambios y no se registró nada. Inténtelo de nuevo.", could_not_resolve: "No se pudo guardar: {0}",
    not_accepted: "Ese código no fue aceptado.",
    replace_signin: "Este enlace inicia sesión con otro código. ¿Cerrar la sesión actual y usarlo?", paid_for: "Pago registrado para {0}.",
    r_open: "registró entrada y nunca salida", r_check_out_without_check_in: "salida sin entrada", r_over_cap: "más larga de lo permitido",
    r_across_midnight: "pasa de la medianoche", r_end_before_start: "termina antes de empezar", r_implausible_date: "fecha imposible",
    r_unverified_badge: "credencial sin verificar", r_kiosk_clock_skew: "el reloj del quiosco estaba mal", r_overlap: "se cruza con otra sesión suya",
    r_closed_twice: "cerrada dos veces, o cambiada después de cerrarse", r_set_aside: "apartada por el servidor", r_coordinator_classroom: "horas de salón que anotó una coordinadora: confírmelas", r_late_delivery: "llegó al servidor mucho después de ocurrir: revísela",
    err_item_changed: "este caso cambió desde que se cargó la página (otra persona lo decidió o cambió su horario). Se volvió a cargar: revíselo de nuevo.",
    bulk_result: "{0} aprobadas; {1} habían cambiado desde que se cargó la página y se volvieron a cargar; {2} no se pudieron guardar.",
    enter_time: "Anotar horas después", enter_hint: "Un quiosco descompuesto, una cámara que no leía, una excursión, una hoja de firmas en papel: anote aquí el horario real. Se acredita como cualquier otra sesión, con su nombre y su motivo.",
    add_line: "Agregar otra mentora", remove_line: "Quitar", enter_save: "Guardar las sesiones", entered_n: "{0} sesiones anotadas.", entered_n_one: "{0} sesión anotada.",
    need_mentor: "Elija una mentora, una entrada y una salida en cada línea.", could_not_enter: "No se pudieron anotar las sesiones: {0}", line_for: "{0} en la línea {1}",
    decides: "Decide {0}", reversed: "revertida", reverse: "Revertir", reverse_reason_for: "Motivo para revertir esta decisión", reversed_ok: "La decisión se revirtió.",
    s_unknown_mentor: "la mentora no está en la lista", s_not_at_school: "no estaba en esa escuela ese día", s_visit: "una visita: su credencial en otra escuela", s_badge_replaced: "credencial vieja, reemplazada",
    s_badge_mismatch: "la credencial no coincide", s_scan_unproven: "el escaneo no prueba que se leyó la credencial", s_no_such_badge: "esa credencial no existe", s_organizer_only: "solo las organizadoras pueden hacer esto", s_resolved_by_organizer: "una organizadora ya había decidido",
    s_not_a_coordinator: "no era coordinadora de esa escuela entonces", s_over_cap: "más larga de lo permitido", s_in_the_future: "en el futuro", s_too_old: "registrada demasiado tarde", s_end_before_start: "termina antes de empezar", s_text_too_long: "texto demasiado largo", s_text_unreadable: "texto con caracteres de control",
    "s_instant_out_of_range:at": "fecha imposible", "s_instant_out_of_range:start": "inicio imposible", "s_instant_out_of_range:end": "fin imposible",
    entries: "Registros de coordinadoras", entries_hint: "Todo lo que una coordinadora registró en un quiosco, y las horas que las organizadoras anotaron después: quién, dónde, cuándo, por qué y qué cambió. Anule un registro que no deba contar.",
    when: "Cuándo", kiosk: "Quiosco", coordinator: "Coordinadora", what: "Qué", no_entries: "No hay registros de coordinadoras.", set_aside_label: "apartado: {0}",
    a_check_in: "entrada sin credencial", a_check_out: "salida sin credencial", a_close: "cerró una sesión", a_set_times: "cambió el horario", a_void: "anuló", a_add_session: "agregó una sesión", a_approve: "aprobó", a_accept: "aceptó", a_reject: "rechazó", a_other: "otro",
    weeks_chart: "Horas por semana, últimas 12 semanas", weeks_label: "Horas acreditadas por semana en las últimas 12 semanas: {0}", week_of: "Semana del {0}",
    bands_chart: "Mentoras según su avance hacia {0} horas", bands_label: "Mentoras según la parte de la meta alcanzada: {0}", band: "Avance", band_mentors: "Mentoras", mentors_n: "{0} mentoras", mentors_n_one: "{0} mentora",
    clearances_due: "Permisos por renovar", clearances: "Permisos", no_clearances: "Ningún permiso vence en los próximos 30 días.", kind: "Tipo", expires: "Válido hasta",
    c_expired: "vencido", c_expiring: "vence en {0} días", c_expiring_one: "vence en {0} día", c_expiring_today: "hoy es el último día", c_current: "vigente",
    "k_background-check": "verificación de antecedentes", "k_tb-test": "prueba de tuberculosis", "k_initial-training": "capacitación inicial",
    ledger: "Pagados", ledger_csv: "Descargar el registro de pagos (CSV)", no_payments: "No hay pagos registrados.", recorded_by: "Registrado por", voided: "anulado por {0}: {1}", void_payment: "Anular pago", void_reason_for: "Motivo para anular el pago a {0}", payment_voided: "Pago anulado.",
    back_to_mentors: "Volver a las mentoras", periods: "Períodos", corrections: "Correcciones", no_sessions: "No hay sesiones.", no_corrections: "No hay correcciones.", no_mentor_payments: "No hay pagos.", no_mentor_clearances: "No hay permisos registrados.",
    category: "Categoría", credited: "Horas acreditadas", who: "Quién", role_coordinator: "coordinadora", role_organizer: "organizadora", threshold: "Meta", eligible_on: "Con derecho desde", active: "Activa", inactive: "inactiva", yes: "sí", no: "no",
    st_credited: "acreditada", st_open: "todavía sin salida", st_needs_review: "por revisar", st_set_aside: "apartada",
    cat_classroom: "salón", cat_training: "capacitación", cat_workshop: "taller", cat_community: "comunidad",
    f_all: "Todas", f_to_pay: "Con derecho, sin pagar", f_eligible: "Con derecho", f_progress: "En camino", f_review: "Por revisar", f_inactive: "Inactivas", f_none: "Sin salón",
    kiosks_hint: "Lo que cada quiosco informó en su última sincronización. Se marca el quiosco del que no se sabe nada en 24 horas.", last_sync: "Última sincronización", waiting: "Registros en espera", clock_offset: "Desfase del reloj", app_version: "Versión", camera: "Cámara", last_scan: "Último escaneo",
    pins: "PIN de coordinadoras", pins_hint: "Los PIN anteriores a los 8 dígitos, y los que estaban en un quiosco perdido, necesitan uno nuevo: dígale a la coordinadora su PIN nuevo.",
    pin_weak: "PIN débil (menos de 8 dígitos): ponga uno nuevo", pin_exposed: "estaba en un quiosco perdido ({0}): ponga un PIN nuevo", pin_refused: "estaba en un quiosco perdido: los quioscos lo rechazan hasta que se ponga uno nuevo",
    set_pin: "Poner PIN nuevo", new_pin_for: "PIN nuevo para {0} (8 dígitos o más)", pin_saved: "PIN nuevo guardado para {0}: los quioscos lo reciben en su próxima sincronización.", pin_not_saved: "No se guardó el PIN: {0}", no_coordinators: "Todavía no hay coordinadoras.",
    scan_proof: "Prueba de escaneo", proves_scans: "prueba cada escaneo", unproven_scans: "puede enviar escaneos sin prueba: actualice este quiosco",
    silent: "Sin noticias desde hace más de 24 horas", never: "nunca", cam_ok: "funciona", "cam_not-working": "no funciona", cam_unknown: "desconocida", seconds: "{0} s", no_kiosks: "Todavía no hay quioscos.", revoked: "revocado",
    program_report: "Informe del programa para financiadores", program_hint: "Por escuela y en total: mentoras activas, quiénes alcanzaron la meta, horas por categoría, días, estipendios pagados y el valor en especie de las horas. Un período o un rango de fechas.",
    from: "Desde", to: "Hasta", show: "Mostrar", download_csv: "Descargar CSV", download_xlsx: "Descargar XLSX", hours_report: "Horas por mentora",
    p_active_mentors: "Mentoras activas", p_reached_threshold: "Alcanzaron la meta", p_classroom_hours: "Horas de salón", p_training_hours: "Horas de capacitación", p_workshop_hours: "Horas de taller", p_community_hours: "Horas de comunidad",
    p_days: "Días-mentora", p_avg_hours_per_mentor: "Promedio de horas por mentora", p_stipends_paid: "Estipendios pagados", p_stipend_amount: "Monto pagado", p_in_kind_value: "Valor en especie", all_schools: "Todas las escuelas"
  }
};
let lang = localStorage.getItem("lang") === "es" ? "es" : "en";
// A string whose first argument is a count has a "_one" form where the language's singular
// differs ("1 mentora", "vence en 1 día"); the language's own plural rules pick it.
const t = (key, ...args) => {
  const one = `${key}_one`;
  if (typeof args[0] === "number" && STRINGS[lang][one] && new Intl.PluralRules(lang).select(args[0]) === "one") key = one;
  return (STRINGS[lang][key] ?? STRINGS.en[key] ?? key).replace(/\{(\d)\}/g, (_, i) => args[Number(i)]);
};
const number = (text) => { const n = typeof text === "number" ? text : parseFloat(text); return Number.isFinite(n) ? n.toLocaleString(lang, { maximumFractionDigits: 2 }) : text; };
const money = (text) => { const n = parseFloat(text); return Number.isFinite(n) ? n.toLocaleString(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : (text || ""); };
// A school-local date (YYYY-MM-DD) in the page's language, never shifted by the browser's zone.
const day = (iso, opts = { year: "numeric", month: "short", day: "numeric" }) => {
  if (!iso) return "";
  const d = new Date(iso.slice(0, 10) + "T12:00:00Z");
  return Number.isNaN(d.getTime()) ? iso : new Intl.DateTimeFormat(lang, { ...opts, timeZone: "UTC" }).format(d);
};
// An instant with the school's offset (RFC 3339): its date and clock as the school saw them.
const clock = (stamp) => (stamp ? stamp.slice(11, 16) : "");
const dayTime = (stamp) => (stamp ? `${day(stamp)} ${clock(stamp)}` : "");
// An instant in UTC (server stamps): in the browser's own zone.
const instant = (stamp) => { if (!stamp) return ""; const d = new Date(stamp); return Number.isNaN(d.getTime()) ? stamp : new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(d); };
const kindName = (k) => t("k_" + k) === "k_" + k ? k : t("k_" + k);
function applyLanguage() {
  document.documentElement.lang = lang;
  $("lang").value = lang;
  document.title = t("title");
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll("[data-i18n-placeholder]")) e.placeholder = t(e.dataset.i18nPlaceholder);
  for (const e of document.querySelectorAll("[data-i18n-aria]")) e.setAttribute("aria-label", t(e.dataset.i18nAria));
}

// A token in the address (#token=...) is moved to this tab's storage and taken out of the URL.
// A link never silently signs out whoever is signed in here: she is asked first.
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) {
  const current = sessionStorage.getItem("token");
  if (!current || current === fromHash || window.confirm(t("replace_signin"))) sessionStorage.setItem("token", fromHash);
  history.replaceState(null, "", location.pathname + location.search);
}
const token = () => sessionStorage.getItem("token");
const linkedPeriod = new URLSearchParams(location.search).get("period");
if (linkedPeriod) $("period").value = linkedPeriod;
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = text; if (cls) e.className = cls; return e; };
const query = (format) => { const q = new URLSearchParams({ format }); const p = $("period").value.trim(); if (p) q.set("period", p); return q; };

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: "Bearer " + token() } });
  if (response.status === 401) { signOut(t("not_accepted")); throw new Error("unauthorized"); }
  // The server's messages are English; the ones an organizer must act on are translated here.
  if (!response.ok) { let msg = response.statusText, code = ""; try { const body = await response.json(); code = body.error; msg = STRINGS[lang][`err_${body.error}`] ? t(`err_${body.error}`) : body.message; } catch (_) {} const e = new Error(msg); e.code = code; throw e; }
  return response;
}
const post = (path, body) => api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
async function download(path, name) {
  try {
    const blob = await (await api(path)).blob();
    const a = el("a"); a.href = URL.createObjectURL(blob); a.download = name; document.body.append(a); a.click(); a.remove(); URL.revokeObjectURL(a.href);
  } catch (e) { if (e.message !== "unauthorized") $("error").textContent = t("could_not_load", e.message); }
}

function signOut(message) {
  sessionStorage.removeItem("token");
  $("app").hidden = true; $("nav").hidden = true; $("signin").hidden = false; $("error").textContent = message || "";
}

function header(table, keys) {
  table.replaceChildren();
  const tr = el("tr");
  // Each heading keeps its key, so a change of language retranslates tables that stay.
  for (const k of keys) { const th = el("th", k ? t(k) : "", /hours|days|sessions|amount|waiting|offset|credited|threshold|^p_|mentors_n/.test(k) ? "num" : ""); th.scope = "col"; if (k) th.dataset.i18n = k; tr.append(th); }
  table.append(tr);
}
function emptyRow(table, key, span) { const tr = el("tr"); const td = el("td", t(key), "empty"); td.colSpan = span; tr.append(td); table.append(tr); }
function row(table, cells) { const tr = el("tr"); for (const c of cells) tr.append(c instanceof Node ? c : el("td", c)); table.append(tr); return tr; }
const num = (text) => el("td", number(text), "num");

function bar(hours, threshold) {
  const wrap = el("div", undefined, "bar" + (hours >= threshold ? " done" : ""));
  const fill = el("span");
  fill.style.width = Math.min(100, (100 * hours) / threshold).toFixed(1) + "%";
  wrap.append(fill);
  wrap.setAttribute("role", "img");
  wrap.setAttribute("aria-label", t("of_hours", hours, threshold));
  return wrap;
}

// --- Overview -------------------------------------------------------------------------------

function renderSchools(overview) {
  const cards = $("schools"); cards.replaceChildren();
  for (const s of overview.schools) {
    const card = el("div", undefined, "card");
    card.append(el("b", s.school_name || s.school_id), el("div", t("card_counts", s.mentors, s.past_threshold), "n"));
    card.append(el("div", t("card_active", s.active_mentors, number(s.hours)), "n"));
    card.append(el("div", t("card_flags", s.unpaid, s.review_items), s.unpaid || s.review_items ? "flag" : "n"));
    card.append(el("div", t("card_kiosks", s.kiosks, s.silent_kiosks), s.silent_kiosks ? "flag" : "n"));
    cards.append(card);
  }
  if (!overview.schools.length) cards.append(el("p", t("no_mentors"), "empty"));
}

const SVG = "http://www.w3.org/2000/svg";
const svgEl = (tag, attrs = {}, text) => { const e = document.createElementNS(SVG, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; return e; };

// A bar chart drawn as SVG: every bar carries its number, so nothing depends on colour; the
// same numbers are in a table for screen readers.
function chart(figure, caption, label, items, horizontal) {
  figure.replaceChildren();
  figure.append(el("figcaption", caption));
  const max = Math.max(1, ...items.map((i) => i.value));
  const svg = svgEl("svg", { role: "img", "aria-label": label, width: "100%" });
  if (!horizontal) {
    const w = 560, h = 220, pad = 28, step = (w - 10) / items.length, barW = step * 0.62;
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.append(svgEl("line", { x1: 5, x2: w - 5, y1: h - pad, y2: h - pad, stroke: "#525e6a" }));
    items.forEach((item, i) => {
      const bh = ((h - pad - 24) * item.value) / max, x = 5 + i * step + (step - barW) / 2, y = h - pad - bh;
      svg.append(svgEl("rect", { x, y, width: barW, height: Math.max(bh, item.value > 0 ? 1 : 0), fill: "#1f6f5c" }));
      svg.append(svgEl("text", { x: x + barW / 2, y: y - 4, "text-anchor": "middle" }, number(item.value)));
      if (i % 2 === 0 || items.length <= 6) svg.append(svgEl("text", { x: x + barW / 2, y: h - 10, "text-anchor": "middle" }, item.short));
    });
  } else {
    const w = 560, rowH = 34, h = items.length * rowH + 8, left = 90, right = 70;
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    items.forEach((item, i) => {
      const y = 6 + i * rowH, bw = ((w - left - right) * item.value) / max;
      svg.append(svgEl("text", { x: left - 8, y: y + 18, "text-anchor": "end" }, item.short));
      svg.append(svgEl("rect", { x: left, y: y + 4, width: Math.max(bw, item.value > 0 ? 1 : 0), height: rowH - 12, fill: i === items.length - 1 ? "#2f8f4e" : "#1f6f5c" }));
      svg.append(svgEl("text", { x: left + bw + 6, y: y + 18 }, number(item.value)));
    });
  }
  figure.append(svg);
  const table = el("table", undefined, "sr-only");
  for (const item of items) row(table, [item.long, number(item.value)]);
  figure.append(table);
}

function renderCharts(overview) {
  const weeks = overview.weeks.map((w) => ({ short: day(w.week_start, { month: "short", day: "numeric" }), long: t("week_of", day(w.week_start)), value: w.hours }));
  chart($("weeks-chart"), t("weeks_chart"), t("weeks_label", weeks.map((w) => `${w.long}: ${number(w.value)}`).join("; ")), weeks, false);
  const bands = overview.bands.map((b) => ({ short: b.band.replace("-", "–") + " %", long: b.band.replace("-", "–") + " %", value: b.mentors }));
  chart($("bands-chart"), t("bands_chart", number(overview.threshold)), t("bands_label", bands.map((b) => `${b.long}: ${t("mentors_n", b.value)}`).join("; ")), bands, true);
}

function clearanceStatus(c) {
  if (c.status === "expired") return t("c_expired");
  if (c.status === "expiring") return c.days_left === 0 ? t("c_expiring_today") : t("c_expiring", c.days_left);
  return t("c_current");
}

function renderClearances(rows) {
  const table = $("clearances"); header(table, ["mentor", "school", "kind", "expires", "status"]);
  for (const c of rows) {
    const who = el("td"); who.append(mentorLink(c.mentor_id, c.mentor_name));
    row(table, [who, c.school_id, kindName(c.kind), day(c.expires), el("td", clearanceStatus(c), c.status === "expired" ? "flag" : "")]);
  }
  if (!rows.length) emptyRow(table, "no_clearances", 5);
}

// --- Payments -------------------------------------------------------------------------------

function renderUnpaid(allPeriods) {
  const unpaid = allPeriods.filter((r) => r.eligible && !r.paid_on);
  const table = $("unpaid"); header(table, ["mentor", "school", "period", "hours", "eligible_since", "record_payment"]);
  for (const r of unpaid) {
    const tr = el("tr");
    tr.append(el("td", r.mentor_name), el("td", r.school_id), el("td", r.period), el("td", number(r.hours), "num"), el("td", day(r.eligible_on)));
    const form = el("form", undefined, "pay");
    const amount = el("input"); amount.placeholder = t("amount"); amount.required = true; amount.setAttribute("aria-label", t("amount_for", r.mentor_name));
    const date = el("input"); date.type = "date"; date.required = true; date.value = r.today || ""; date.setAttribute("aria-label", t("paid_date"));
    const ref = el("input", undefined, "ref"); ref.placeholder = t("reference"); ref.required = true; ref.setAttribute("aria-label", t("reference"));
    const go = el("button", t("mark_paid"), "primary");
    form.append(amount, date, ref, go);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (go.disabled) return;
      // One click, one payment: the button stays off until the server has answered.
      go.disabled = true;
      try {
        await post("/api/v1/stipends", { mentor: r.mentor_id, period: r.period, amount: amount.value.trim(), paid_on: date.value, reference: ref.value.trim() });
        $("notice").textContent = t("paid_for", r.mentor_name);
        load();
      } catch (e) { go.disabled = false; $("error").textContent = t("could_not_pay", e.message); }
    });
    const td = el("td"); td.append(form); tr.append(td); table.append(tr);
  }
  if (!unpaid.length) emptyRow(table, "nobody_waiting", 6);
}

function renderLedger(payments, names) {
  const table = $("ledger"); header(table, ["mentor", "period", "amount", "paid_on", "reference", "recorded_by", "actions"]);
  for (const p of [...payments].sort((a, b) => b.paid_on.localeCompare(a.paid_on) || b.id - a.id)) {
    const name = names.get(p.mentor) || p.mentor;
    const tr = row(table, [name, p.period, el("td", money(p.amount), "num"), day(p.paid_on), p.reference, p.recorded_by]);
    tr.dataset.payment = p.id;
    const td = el("td");
    if (p.voided_at) td.append(el("span", t("voided", p.voided_by, p.void_reason), "flag"));
    else {
      const acts = el("div", undefined, "acts");
      const reason = el("input", undefined, "reason"); reason.placeholder = t("reason"); reason.setAttribute("aria-label", t("void_reason_for", name));
      const b = el("button", t("void_payment")); b.type = "button"; b.setAttribute("aria-label", `${t("void_payment")}: ${name}, ${p.period}`);
      b.addEventListener("click", async () => {
        if (b.disabled) return;
        if (!reason.value.trim()) { $("error").textContent = t("need_reason"); return; }
        b.disabled = true;
        try { await post(`/api/v1/stipends/${p.id}/void`, { reason: reason.value.trim() }); $("notice").textContent = t("payment_voided"); load(); }
        catch (e) { b.disabled = false; $("error").textContent = t("could_not_resolve", e.message); }
      });
      acts.append(reason, b); td.append(acts);
    }
    tr.append(td);
  }
  if (!payments.length) emptyRow(table, "no_payments", 7);
}

// --- Review ---------------------------------------------------------------------------------

const localInput = (stamp) => (stamp ? stamp.slice(0, 16) : "");
// A datetime-local value back to RFC 3339, with the item's own offset (the school's).
const withOffset = (value, like) => (value ? value + ":00" + (like ? like.slice(19) : "Z") : null);

function why(item) {
  const words = item.reasons.map((r) => t("r_" + r));
  if (item.set_aside_reason) words.push(t("s_" + item.set_aside_reason));
  return words.join("; ");
}

// What the organizer saw goes with every decision: if the item changed since, nothing is
// recorded (409 item_changed) and the page reloads it.
const seenOf = (item) => ({ reasons: item.reasons, start: item.start || null, end: item.end || null });
async function resolve(item, action, reason, extra = {}) {
  if (!reason.trim()) { $("error").textContent = t("need_reason"); return false; }
  try {
    await post("/api/v1/reviews/" + encodeURIComponent(item.item), { action, reason: reason.trim(), seen: seenOf(item), ...extra });
  } catch (e) {
    // Reloaded first (loading clears the messages), then said.
    if (e.code === "item_changed") { await load(); $("error").textContent = e.message; return false; }
    throw e;
  }
  return true;
}

let reviewItems = new Map();
function renderReview(items) {
  reviewItems = new Map(items.map((i) => [i.item, i]));
  const table = $("review"); header(table, ["select", "mentor", "school", "date", "times", "why", "actions"]);
  for (const item of items) {
    const tr = el("tr"); tr.dataset.item = item.item;
    const name = item.mentor_name || item.mentor_id;
    const pick = el("td");
    if (item.approvable) { const box = el("input"); box.type = "checkbox"; box.className = "pick"; box.value = item.item; box.setAttribute("aria-label", t("select_item", name)); pick.append(box); }
    const times = item.end ? `${clock(item.start)}–${clock(item.end)}` : item.reasons.includes("set_aside") ? clock(item.start) : `${clock(item.start)}–… (${t("still_open")})`;
    tr.append(pick, el("td", name), el("td", item.school_id), el("td", day(item.start || item.end)), el("td", times), el("td", why(item), "why"));
    const acts = el("div", undefined, "acts");
    const reason = el("input", undefined, "reason"); reason.placeholder = t("reason"); reason.setAttribute("aria-label", t("reason_for", name));
    acts.append(reason);
    const button = (key, onClick) => { const b = el("button", t(key)); b.type = "button"; b.dataset.action = key; b.setAttribute("aria-label", `${t(key)}: ${name}`);
      b.addEventListener("click", async () => { if (b.disabled) return; b.disabled = true; try { if (await onClick()) { $("notice").textContent = t("saved"); load(); } } catch (e) { $("error").textContent = t("could_not_resolve", e.message); } b.disabled = false; }); return b; };
    const set = item.reasons.includes("set_aside");
    if (set) {
      acts.append(button("accept", () => resolve(item, "accept", reason.value)), button("reject", () => resolve(item, "reject", reason.value)));
    } else {
      if (item.approvable) acts.append(button("approve", () => resolve(item, "approve", reason.value)));
      const box = el("div", undefined, "times"); box.hidden = true;
      const start = el("input"); start.type = "datetime-local"; start.value = localInput(item.start); start.setAttribute("aria-label", `${t("start")}: ${name}`);
      const end = el("input"); end.type = "datetime-local"; end.value = localInput(item.end); end.setAttribute("aria-label", `${t("end")}: ${name}`);
      const like = item.start || item.end;
      const save = button("save_times", () => resolve(item, "set_times", reason.value, {
        start: start.value !== localInput(item.start) ? withOffset(start.value, like) : null,
        end: end.value !== localInput(item.end) ? withOffset(end.value, like) : null }));
      box.append(el("span", t("start")), start, el("span", t("end")), end, save);
      const open = el("button", t("set_times")); open.type = "button"; open.dataset.action = "set_times"; open.setAttribute("aria-label", `${t("set_times")}: ${name}`);
      open.addEventListener("click", () => { box.hidden = !box.hidden; });
      acts.append(open, button("void", () => resolve(item, "void", reason.value)), box);
    }
    const td = el("td"); td.append(acts); tr.append(td); table.append(tr);
  }
  if (!items.length) emptyRow(table, "nothing_to_review", 7);
}

// --- Mentors --------------------------------------------------------------------------------

let mentorRows = [];
function mentorLink(id, name) {
  const b = el("button", name || id, "link"); b.type = "button"; b.dataset.mentor = id;
  b.addEventListener("click", () => openMentor(id));
  return b;
}

function fillSelect(select, options, keep) {
  const before = select.value;
  select.replaceChildren();
  for (const [value, label] of options) { const o = el("option", label); o.value = value; select.append(o); }
  select.value = options.some(([v]) => v === before) && keep ? before : options[0][0];
}

function renderFilters(rows) {
  const schools = [...new Map(rows.map((r) => [r.school_id, r.school_name || r.school_id]))].sort((a, b) => a[1].localeCompare(b[1]));
  fillSelect($("filter-school"), [["", t("all")], ...schools], true);
  fillSelect($("program-school"), [["", t("all_schools")], ...schools], true);
  const rooms = [...new Set(rows.map((r) => r.classroom).filter(Boolean))].sort((a, b) => a.localeCompare(b, lang, { numeric: true }));
  fillSelect($("filter-classroom"), [["", t("all")], ...rooms.map((r) => [r, r]), ["-", t("f_none")]], true);
  fillSelect($("filter-status"), [["", t("f_all")], ["to_pay", t("f_to_pay")], ["eligible", t("f_eligible")], ["progress", t("f_progress")], ["review", t("f_review")], ["inactive", t("f_inactive")]], true);
}

const fold = (s) => (s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
function renderMentors() {
  const text = fold($("filter-text").value.trim()), school = $("filter-school").value, room = $("filter-classroom").value, status = $("filter-status").value;
  const shown = mentorRows.filter((r) =>
    (!text || fold(r.mentor_name).includes(text) || fold(r.mentor_id).includes(text) || fold(r.teacher).includes(text)) &&
    (!school || r.school_id === school) &&
    (!room || (room === "-" ? !r.classroom : r.classroom === room)) &&
    (!status || (status === "to_pay" && r.eligible && !r.paid_on) || (status === "eligible" && r.eligible) || (status === "progress" && !r.eligible && r.active) ||
      (status === "review" && r.needs_review > 0) || (status === "inactive" && !r.active)));
  const table = $("mentors"); header(table, ["mentor", "school", "teacher", "classroom", "period", "hours", "progress", "days", "sessions", "paid_on"]);
  for (const r of [...shown].sort((a, b) => b.hours - a.hours || a.mentor_name.localeCompare(b.mentor_name))) {
    const who = el("td"); who.append(mentorLink(r.mentor_id, r.mentor_name));
    if (!r.active) who.append(" ", el("span", `(${t("inactive")})`, "empty"));
    const td = el("td"); td.append(bar(parseFloat(r.hours), parseFloat(r.threshold)));
    row(table, [who, r.school_id, r.teacher || "—", r.classroom || "—", r.period, el("td", `${number(r.hours)} / ${number(r.threshold)}`, "num"), td, num(r.days), num(r.sessions), day(r.paid_on) || "—"]);
  }
  if (!mentorRows.length) emptyRow(table, "no_mentors", 10);
  else if (!shown.length) emptyRow(table, "no_match", 10);
}

async function openMentor(id) {
  try {
    const m = await (await api("/api/v1/mentors/" + encodeURIComponent(id))).json();
    $("mentor-title").textContent = m.name;
    const facts = $("mentor-facts"); facts.replaceChildren();
    const fact = (k, v) => facts.append(el("dt", t(k)), el("dd", v));
    fact("school", m.school_name || m.school_id); fact("language", m.language === "es" ? "Español" : m.language === "en" ? "English" : m.language);
    fact("teacher", m.teacher || "—"); fact("classroom", m.classroom || "—"); fact("active", m.active ? t("yes") : t("no"));
    let table = $("mentor-periods"); header(table, ["period", "hours", "threshold", "eligible_on", "paid_on"]);
    for (const p of m.periods) row(table, [p.period, num(p.hours), num(p.threshold), day(p.eligible_on) || "—", day(p.paid_on) || "—"]);
    table = $("mentor-sessions"); header(table, ["date", "times", "credited", "category", "kiosk", "status"]);
    for (const s of m.sessions) {
      const reasons = s.reasons.filter((r) => r !== "set_aside").map((r) => t("r_" + r));
      if (s.set_aside_reason) reasons.push(t("s_" + s.set_aside_reason));
      const status = [t("st_" + s.status), ...reasons].join("; ");
      row(table, [day(s.date), `${clock(s.start)}–${s.end ? clock(s.end) : "…"}`, num(s.credited_hours), t("cat_" + s.category), s.kiosk_name || s.kiosk, el("td", status, s.status === "credited" ? "" : "why")]);
    }
    if (!m.sessions.length) emptyRow(table, "no_sessions", 6);
    table = $("mentor-corrections"); header(table, ["when", "who", "what", "why", "actions"]);
    for (const c of m.corrections) {
      const what = t("a_" + c.action) + " · " + c.details + (c.set_aside_reason ? " · " + t("set_aside_label", t("s_" + c.set_aside_reason)) : "") + (c.in_force ? "" : " · " + t("reversed"));
      const cell = el("td");
      cell.append(el("div", c.event, "id"));
      if (c.decides) cell.append(el("div", t("decides", c.decides), "id"));
      if (c.in_force && c.role === "organizer") {
        const acts = el("div", undefined, "acts");
        const reason = el("input", undefined, "reason"); reason.placeholder = t("reason"); reason.setAttribute("aria-label", t("reverse_reason_for"));
        const b = el("button", t("reverse")); b.type = "button"; b.dataset.action = "reverse";
        b.addEventListener("click", async () => {
          if (!reason.value.trim()) { $("error").textContent = t("need_reason"); return; }
          b.disabled = true;
          try { await post("/api/v1/reviews/" + encodeURIComponent(c.event), { action: "void", reason: reason.value.trim() }); $("notice").textContent = t("reversed_ok"); load(); }
          catch (e) { $("error").textContent = t("could_not_resolve", e.message); b.disabled = false; }
        });
        acts.append(reason, b); cell.append(acts);
      }
      row(table, [dayTime(c.at), `${c.by} (${t("role_" + c.role)})`, what, c.reason, cell]);
    }
    if (!m.corrections.length) emptyRow(table, "no_corrections", 5);
    table = $("mentor-clearances"); header(table, ["kind", "expires", "status"]);
    for (const c of m.clearances) row(table, [kindName(c.kind), day(c.expires), el("td", clearanceStatus(c), c.status === "expired" ? "flag" : "")]);
    if (!m.clearances.length) emptyRow(table, "no_mentor_clearances", 3);
    table = $("mentor-payments"); header(table, ["period", "amount", "paid_on", "reference", "recorded_by"]);
    for (const p of m.payments) row(table, [p.period, el("td", money(p.amount), "num"), day(p.paid_on), p.reference + (p.voided_at ? " · " + t("voided", p.voided_by, p.void_reason) : ""), p.recorded_by]);
    if (!m.payments.length) emptyRow(table, "no_mentor_payments", 5);
    const page = $("mentor-page"); page.hidden = false; page.dataset.mentor = id;
    page.scrollIntoView(); page.focus();
  } catch (e) { if (e.message !== "unauthorized") $("error").textContent = t("could_not_load", e.message); }
}

// --- Kiosks and coordinator entries ---------------------------------------------------------

function renderKiosks(kiosks) {
  const table = $("kiosks"); header(table, ["kiosk", "school", "last_sync", "waiting", "clock_offset", "app_version", "camera", "last_scan", "scan_proof", "status"]);
  for (const k of kiosks) {
    const tr = row(table, [k.name, k.school_id, k.last_sync ? instant(k.last_sync) : t("never"), num(k.pending_events ?? "—"),
      el("td", k.clock_offset_secs == null ? "—" : t("seconds", number(k.clock_offset_secs)), "num"), k.app_version || "—",
      k.camera ? t("cam_" + k.camera) : "—", k.last_scan ? instant(k.last_scan) : "—",
      el("td", k.proves_scans ? t("proves_scans") : "⚠ " + t("unproven_scans"), k.proves_scans ? "" : "flag"),
      el("td", k.revoked ? t("revoked") : k.silent ? "⚠ " + t("silent") : "✓", k.silent && !k.revoked ? "flag" : "")]);
    tr.dataset.kiosk = k.kiosk;
  }
  if (!kiosks.length) emptyRow(table, "no_kiosks", 10);
}

function renderEntries(entries) {
  const table = $("entries"); header(table, ["when", "school", "kiosk", "coordinator", "mentor", "what", "why", "actions"]);
  for (const e of entries) {
    const tr = el("tr"); tr.dataset.entry = e.entry;
    const name = e.mentor_name || e.mentor_id;
    const what = t("a_" + e.action) + " · " + e.details + (e.set_aside_reason ? " · " + t("set_aside_label", t("s_" + e.set_aside_reason)) : "");
    tr.append(el("td", dayTime(e.at)), el("td", e.school_id), el("td", e.kiosk), el("td", e.coordinator), el("td", name), el("td", what), el("td", e.reason));
    const acts = el("div", undefined, "acts");
    const reason = el("input", undefined, "reason"); reason.placeholder = t("reason"); reason.setAttribute("aria-label", t("reason_for", name));
    const b = el("button", t("void")); b.type = "button"; b.dataset.action = "void"; b.setAttribute("aria-label", `${t("void")}: ${e.coordinator}, ${name}`);
    b.addEventListener("click", async () => {
      if (b.disabled) return; b.disabled = true;
      try { if (await resolve({ item: e.entry }, "void", reason.value)) { $("notice").textContent = t("saved"); load(); } }
      catch (err) { $("error").textContent = t("could_not_resolve", err.message); }
      b.disabled = false;
    });
    acts.append(reason, b);
    const td = el("td"); td.append(acts); tr.append(td); table.append(tr);
  }
  if (!entries.length) emptyRow(table, "no_entries", 8);
}

function renderPins(list) {
  const table = $("pins"); header(table, ["school", "coordinator", "status", "actions"]);
  for (const c of list) {
    const state = c.refused ? "⚠ " + t("pin_refused") : c.exposed_at ? "⚠ " + t("pin_exposed", dayTime(c.exposed_at)) : c.weak ? "⚠ " + t("pin_weak") : "✓";
    const tr = el("tr"); tr.dataset.coordinator = c.name;
    tr.append(el("td", c.school_id), el("td", c.name), el("td", state, state === "✓" ? "" : "flag"));
    const acts = el("div", undefined, "acts");
    const pin = el("input"); pin.type = "password"; pin.inputMode = "numeric"; pin.autocomplete = "new-password";
    pin.setAttribute("aria-label", t("new_pin_for", c.name));
    const b = el("button", t("set_pin")); b.type = "button"; b.setAttribute("aria-label", `${t("set_pin")}: ${c.name}`);
    b.addEventListener("click", async () => {
      if (b.disabled) return; b.disabled = true;
      try { await post("/api/v1/coordinators/pin", { school: c.school_id, name: c.name, pin: pin.value }); pin.value = ""; $("notice").textContent = t("pin_saved", c.name); load(); }
      catch (err) { $("error").textContent = t("pin_not_saved", err.message); }
      b.disabled = false;
    });
    acts.append(pin, b);
    const td = el("td"); td.append(acts); tr.append(td); table.append(tr);
  }
  if (!list.length) emptyRow(table, "no_coordinators", 4);
}

// --- Reports --------------------------------------------------------------------------------

const PROGRAM_COLUMNS = ["active_mentors", "reached_threshold", "classroom_hours", "training_hours", "workshop_hours", "community_hours", "days", "avg_hours_per_mentor", "stipends_paid", "stipend_amount", "in_kind_value"];
function programQuery(format) {
  const q = new URLSearchParams({ format });
  const p = $("program-period").value.trim(), from = $("program-from").value, to = $("program-to").value, s = $("program-school").value;
  if (from || to) { if (from) q.set("from", from); if (to) q.set("to", to); } else if (p) q.set("period", p);
  if (s) q.set("school", s);
  return "/api/v1/reports/program?" + q;
}
async function showProgram(ev) {
  if (ev) ev.preventDefault();
  try {
    const rows = await (await api(programQuery("json"))).json();
    const table = $("program"); header(table, ["school", ...PROGRAM_COLUMNS.map((c) => "p_" + c)]);
    for (const r of rows) {
      const name = el(r.school_id === "ALL" ? "th" : "td", r.school_id === "ALL" ? t("all_schools") : r.school_name);
      if (r.school_id === "ALL") name.scope = "row";
      row(table, [name, ...PROGRAM_COLUMNS.map((c) => el("td", /amount|value/.test(c) ? money(r[c]) : number(r[c]), "num"))]);
    }
  } catch (e) { if (e.message !== "unauthorized") $("error").textContent = t("could_not_load", e.message); }
}

// --- Loading --------------------------------------------------------------------------------

async function load() {
  if (!token()) { signOut(); return; }
  $("signin").hidden = true; $("app").hidden = false; $("nav").hidden = false; $("error").textContent = "";
  try {
    const period = $("period").value.trim();
    const [rows, all, items, entries, overview, kiosks, ledger] = await Promise.all([
      api("/api/v1/reports/hours?" + query("json")).then((r) => r.json()),
      api("/api/v1/reports/hours?format=json&period=all").then((r) => r.json()),
      api("/api/v1/reviews?format=json").then((r) => r.json()),
      api("/api/v1/coordinator-entries?format=json").then((r) => r.json()),
      api("/api/v1/overview" + (period ? "?period=" + encodeURIComponent(period) : "")).then((r) => r.json()),
      api("/api/v1/kiosks").then((r) => r.json()),
      api("/api/v1/stipends?format=json").then((r) => r.json()),
    ]);
    renderPins(await (await api("/api/v1/coordinators")).json());
    const names = new Map(all.map((r) => [r.mentor_id, r.mentor_name]));
    mentorRows = rows;
    renderSchools(overview); renderCharts(overview); renderClearances(overview.clearances);
    renderUnpaid(all); renderLedger(ledger, names); renderReview(items);
    renderFilters(rows); renderMentors(); renderKiosks(kiosks); renderEntries(entries); renderEnterForm(all);
    if (!$("program-period").value && overview.period) $("program-period").value = overview.period;
    if ($("program").rows.length) showProgram();
    const open = $("mentor-page");
    if (!open.hidden && open.dataset.mentor) openMentor(open.dataset.mentor);
    document.body.dataset.loaded = String(Date.now());
  } catch (e) { if (e.message !== "unauthorized") $("error").textContent = t("could_not_load", e.message); }
}

// --- Entering time after the fact -------------------------------------------------------------

let enterMentors = [];
function enterLine() {
  const table = $("enter-lines");
  if (!table.rows.length) header(table, ["mentor", "start", "end", ""]);
  const n = table.rows.length;
  const who = el("select"); who.setAttribute("aria-label", t("line_for", t("mentor"), n)); who.className = "enter-mentor";
  fillSelect(who, [["", "—"], ...enterMentors.map((m) => [m.mentor_id, m.mentor_name || m.mentor_id])], false);
  const start = el("input"); start.type = "time"; start.className = "enter-start"; start.setAttribute("aria-label", t("line_for", t("start"), n));
  const end = el("input"); end.type = "time"; end.className = "enter-end"; end.setAttribute("aria-label", t("line_for", t("end"), n));
  const remove = el("button", t("remove_line")); remove.type = "button"; remove.dataset.i18n = "remove_line";
  const tr = row(table, [el("td"), el("td"), el("td"), el("td")]);
  tr.cells[0].append(who); tr.cells[1].append(start); tr.cells[2].append(end); tr.cells[3].append(remove);
  remove.addEventListener("click", () => { tr.remove(); if ($("enter-lines").rows.length === 1) enterLine(); });
}
function renderEnterForm(all) {
  const seen = new Map();
  for (const r of all) if (!seen.has(r.mentor_id)) seen.set(r.mentor_id, r);
  enterMentors = [...seen.values()].sort((a, b) => (a.mentor_name || "").localeCompare(b.mentor_name || "", lang));
  fillSelect($("enter-category"), ["classroom", "training", "workshop", "community"].map((c) => [c, t("cat_" + c)]), true);
  // Keep what is being typed; fill the mentors of a fresh form.
  if ($("enter-lines").rows.length <= 1) { $("enter-lines").replaceChildren(); enterLine(); }
  if (!$("enter-date").value && all.length && all[0].today) $("enter-date").value = all[0].today;
}
async function saveEntered() {
  const date = $("enter-date").value, category = $("enter-category").value, reason = $("enter-reason").value.trim();
  if (!reason) { $("error").textContent = t("need_reason"); return; }
  const lines = [...$("enter-lines").rows].slice(1);
  const sessions = [];
  for (const tr of lines) {
    const mentor = tr.querySelector(".enter-mentor").value, start = tr.querySelector(".enter-start").value, end = tr.querySelector(".enter-end").value;
    if (!mentor && !start && !end) continue;
    if (!mentor || !start || !end || !date) { $("error").textContent = t("need_mentor"); return; }
    const zone = (enterMentors.find((m) => m.mentor_id === mentor) || {}).time_zone;
    sessions.push({ mentor, start: atSchool(date, start, zone), end: atSchool(date, end, zone), category });
  }
  if (!sessions.length) { $("error").textContent = t("need_mentor"); return; }
  const button = $("enter-save"); button.disabled = true;
  try {
    const body = sessions.length === 1 ? { ...sessions[0], reason } : { sessions, reason };
    await post("/api/v1/sessions", body);
    $("notice").textContent = t("entered_n", sessions.length); $("error").textContent = "";
    $("enter-lines").replaceChildren(); $("enter-reason").value = "";
    load();
  } catch (e) { $("error").textContent = t("could_not_enter", e.message); }
  button.disabled = false;
}
// A school-local date and clock time as an instant (RFC 3339 in UTC), through the school's zone.
function atSchool(date, time, zone) {
  const guess = new Date(`${date}T${time}:00Z`);
  if (!zone) return guess.toISOString();
  const parts = (d) => Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
    .formatToParts(d).map((p) => [p.type, p.value]));
  let t0 = guess.getTime();
  for (let i = 0; i < 3; i++) {
    const p = parts(new Date(t0));
    const shown = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute);
    t0 += guess.getTime() - shown;
  }
  return new Date(t0).toISOString();
}

async function bulkApprove() {
  const picked = [...document.querySelectorAll("#review input.pick:checked")].map((b) => b.value);
  const reason = $("bulk-reason").value;
  if (!reason.trim()) { $("error").textContent = t("need_reason"); return; }
  const button = $("bulk-approve"); button.disabled = true;
  // Each item as it was seen; each one's outcome is reported.
  let done = 0, changed = 0;
  const failed = [];
  for (const id of picked) {
    const item = reviewItems.get(id);
    if (!item) { changed++; continue; }
    try { await post("/api/v1/reviews/" + encodeURIComponent(id), { action: "approve", reason: reason.trim(), seen: seenOf(item) }); done++; }
    catch (e) { if (e.code === "item_changed") changed++; else failed.push(`${item.mentor_name || item.mentor_id}: ${e.message}`); }
  }
  button.disabled = false; $("bulk-reason").value = "";
  await load();
  if (changed || failed.length) {
    $("notice").textContent = t("bulk_result", done, changed, failed.length);
    if (failed.length) $("error").textContent = t("could_not_resolve", failed.join("; "));
  } else $("notice").textContent = t("approved_n", done);
}

$("signin-form").addEventListener("submit", (ev) => { ev.preventDefault(); sessionStorage.setItem("token", $("token").value.trim()); load(); });
$("signout").addEventListener("click", () => signOut());
$("refresh").addEventListener("click", load);
$("csv").addEventListener("click", () => download("/api/v1/reports/hours?" + query("csv"), "hours.csv"));
$("ledger-csv").addEventListener("click", () => download("/api/v1/stipends?format=csv", "payments.csv"));
$("program-form").addEventListener("submit", showProgram);
$("program-csv").addEventListener("click", () => download(programQuery("csv"), "program.csv"));
$("program-xlsx").addEventListener("click", () => download(programQuery("xlsx"), "program.xlsx"));
$("bulk-approve").addEventListener("click", bulkApprove);
$("enter-add").addEventListener("click", enterLine);
$("enter-save").addEventListener("click", saveEntered);
$("mentor-close").addEventListener("click", () => { $("mentor-page").hidden = true; $("mentors-section").scrollIntoView(); });
for (const id of ["filter-text", "filter-school", "filter-classroom", "filter-status"]) $(id).addEventListener("input", renderMentors);
$("lang").addEventListener("change", () => { lang = $("lang").value === "es" ? "es" : "en"; localStorage.setItem("lang", lang); $("notice").textContent = ""; applyLanguage(); load(); });
applyLanguage();
load();
