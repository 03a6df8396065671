//! The words of the UI in one table: a row per message with its key and its English and
//! German text side by side, so no message can exist in one language only. Tests prove
//! that every key the pages and templates look up has a row, and that no text is empty.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::Lang;

pub const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The confirmations a redirect may ask for (`?done=<code>`): code → message key. Only
/// these codes show anything, so a crafted link cannot put words on a page.
const DONE: &[(&str, &str)] = &[
    ("saved", "done.saved"),
    ("password_changed", "done.password_changed"),
    ("invited", "done.invited"),
    ("signed_out", "done.signed_out"),
    ("signed_out_everywhere", "done.signed_out_everywhere"),
    ("account_deleted", "done.account_deleted"),
    ("entry_added", "done.entry_added"),
    ("entry_deleted", "done.entry_deleted"),
    ("entry_saved", "done.entry_saved"),
    ("photo_added", "done.photo_added"),
    ("photo_deleted", "done.photo_deleted"),
    ("verification_sent", "done.verification_sent"),
    ("grant_changed", "done.grant_changed"),
    ("grant_added", "admin.saved_grant"),
    ("restriction_set", "done.restriction_set"),
    ("restriction_cleared", "done.restriction_cleared"),
    ("coupon_saved", "done.coupon_saved"),
    ("mail_resent", "done.mail_resent"),
    ("price_added", "done.price_added"),
    ("price_changed", "done.price_changed"),
    ("event_retried", "done.event_retried"),
    ("billing_synced", "done.billing_synced"),
];

/// The message key of a `?done=` code.
pub fn done_message(code: &str) -> Option<&'static str> {
    DONE.iter().find(|(c, _)| *c == code).map(|(_, key)| *key)
}

/// The text of `key` in `lang`, if there is such a message.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    static BY_KEY: LazyLock<HashMap<&str, (&str, &str)>> = LazyLock::new(|| {
        MESSAGES
            .iter()
            .map(|&(key, en, de)| (key, (en, de)))
            .collect()
    });
    BY_KEY.get(key).map(|&(en, de)| match lang {
        Lang::En => en,
        Lang::De => de,
    })
}

/// Every message: its key, the English text, the German text.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    // notifications
    ("admin.webhooks", "Webhooks", "Webhooks"),
    (
        "admin.webhooks_help",
        "Notifications of the events a webhook wants are posted to its URL (JSON, Slack or ntfy), signed with its secret in the Mitai-Signature header, retried for a day when the receiver is down.",
        "Benachrichtigungen der Ereignisse, die ein Webhook möchte, gehen an seine URL (JSON, Slack oder ntfy), signiert mit seinem Geheimnis im Header Mitai-Signature, und werden einen Tag lang erneut versucht, wenn der Empfänger nicht erreichbar ist.",
    ),
    (
        "admin.webhook_secret",
        "The webhook's secret — shown only now: keep it where its receiver checks the Mitai-Signature.",
        "Das Geheimnis des Webhooks — nur jetzt sichtbar: bewahre es dort auf, wo sein Empfänger die Mitai-Signature prüft.",
    ),
    ("admin.webhook_url", "URL", "URL"),
    ("admin.webhook_format", "Format", "Format"),
    ("admin.hook_events", "Events", "Ereignisse"),
    ("admin.webhook_test", "Send a test", "Test senden"),
    ("admin.webhook_delete", "Remove", "Entfernen"),
    ("admin.webhook_add", "Add a webhook", "Webhook hinzufügen"),
    (
        "admin.webhook_test_ok",
        "The test arrived.",
        "Der Test ist angekommen.",
    ),
    (
        "admin.webhook_test_failed",
        "The test did not arrive: {0}",
        "Der Test ist nicht angekommen: {0}",
    ),
    ("admin.notifications", "Notifications", "Benachrichtigungen"),
    (
        "admin.notifications_unread",
        "Notifications: {0} unread",
        "Benachrichtigungen: {0} ungelesen",
    ),
    (
        "admin.bell_unread",
        "Unread notifications:",
        "Ungelesene Benachrichtigungen:",
    ),
    (
        "admin.mark_all_read",
        "Mark all read",
        "Alle als gelesen markieren",
    ),
    ("admin.mark_read", "Mark read", "Als gelesen markieren"),
    ("admin.unread", "unread", "ungelesen"),
    (
        "admin.no_notifications",
        "Nothing has happened that needs you.",
        "Es ist nichts passiert, das dich braucht.",
    ),
    (
        "admin.notice_times",
        "{0} times, {1} to {2}",
        "{0}-mal, {1} bis {2}",
    ),
    (
        "admin.notice_preferences",
        "How you hear of each event",
        "Wie du von jedem Ereignis erfährst",
    ),
    (
        "admin.notice_preferences_help",
        "Every notification is listed here and counted by the bell. “At once” also mails it to you when it happens; “Daily digest” mails it in one message a day (at the hour set under Settings); “Only here” mails nothing. Webhooks (below) get the events they want either way.",
        "Jede Benachrichtigung steht hier und zählt in der Glocke. „Sofort“ schickt sie dir auch per E-Mail, sobald sie passiert; „Tägliche Zusammenfassung“ in einer Nachricht am Tag (zur Stunde aus den Einstellungen); „Nur hier“ schickt nichts. Webhooks (unten) bekommen ihre Ereignisse in jedem Fall.",
    ),
    ("notice_mode.immediate", "At once", "Sofort"),
    (
        "notice_mode.digest",
        "Daily digest",
        "Tägliche Zusammenfassung",
    ),
    ("notice_mode.off", "Only here", "Nur hier"),
    (
        "notice_event.user_registered",
        "A person signs up",
        "Eine Person registriert sich",
    ),
    (
        "notice_event.subscription_started",
        "A subscription starts",
        "Ein Abo beginnt",
    ),
    (
        "notice_event.subscription_canceled",
        "A subscription is set to end",
        "Ein Abo wird beendet",
    ),
    (
        "notice_event.payment_failed",
        "A payment fails",
        "Eine Zahlung schlägt fehl",
    ),
    (
        "notice_event.payment_refunded",
        "A payment is refunded",
        "Eine Zahlung wird erstattet",
    ),
    (
        "notice_event.dispute_opened",
        "A payment is disputed",
        "Eine Zahlung wird angefochten",
    ),
    (
        "notice_event.coupon_exhausted",
        "A coupon is used up",
        "Ein Gutschein ist aufgebraucht",
    ),
    (
        "notice_event.mail_failing",
        "Mail cannot be sent",
        "E-Mails können nicht gesendet werden",
    ),
    (
        "notice_event.job_failed",
        "A job fails",
        "Ein Job schlägt fehl",
    ),
    (
        "notice_event.webhook_failed",
        "A Stripe event cannot be applied",
        "Ein Stripe-Ereignis kann nicht angewendet werden",
    ),
    (
        "notice_event.partner_joined",
        "A partner gains a member",
        "Ein Partner gewinnt ein Mitglied",
    ),
    // payments
    ("admin.billing", "Billing", "Abrechnung"),
    (
        "admin.billing_off",
        "Payments are off: set MITAI_STRIPE_SECRET_KEY and MITAI_STRIPE_WEBHOOK_SECRET to take them (docs/operations.md, “Taking payments”).",
        "Zahlungen sind aus: setze MITAI_STRIPE_SECRET_KEY und MITAI_STRIPE_WEBHOOK_SECRET, um sie anzunehmen (docs/operations.md, „Taking payments“).",
    ),
    ("admin.billing_figures", "Payments", "Zahlungen"),
    (
        "admin.paying_subscribers",
        "Paying subscribers",
        "Zahlende Abonnenten",
    ),
    (
        "admin.mrr",
        "Monthly recurring revenue",
        "Monatlich wiederkehrender Umsatz",
    ),
    (
        "admin.revenue_30",
        "Revenue of the last 30 days",
        "Umsatz der letzten 30 Tage",
    ),
    ("admin.prices", "Prices", "Preise"),
    ("admin.price", "Price", "Preis"),
    ("admin.on_sale", "On sale", "Im Verkauf"),
    ("admin.off_sale", "Off sale", "Nicht im Verkauf"),
    (
        "admin.take_off_sale",
        "Take off sale",
        "Aus dem Verkauf nehmen",
    ),
    ("admin.put_on_sale", "Put on sale", "In den Verkauf nehmen"),
    (
        "admin.add_price",
        "Sell a Stripe price",
        "Stripe-Preis verkaufen",
    ),
    (
        "admin.stripe_price_id",
        "Stripe price id (price_…)",
        "Stripe-Preis-ID (price_…)",
    ),
    (
        "admin.pass_days",
        "Days of access (one-time prices)",
        "Tage Zugang (Einmalpreise)",
    ),
    (
        "admin.price_help",
        "Mitai reads the amount, currency and interval from Stripe. A recurring price sells a subscription; a one-time price sells a pass of the days given.",
        "Mitai liest Betrag, Währung und Intervall bei Stripe. Ein wiederkehrender Preis verkauft ein Abo, ein Einmalpreis einen Pass über die angegebenen Tage.",
    ),
    ("admin.subscriptions", "Subscriptions", "Abos"),
    (
        "admin.no_subscriptions",
        "No subscriptions yet.",
        "Noch keine Abos.",
    ),
    ("admin.period_end", "Period ends", "Zeitraum endet"),
    ("admin.monthly_revenue", "Per month", "Pro Monat"),
    ("admin.ending", "(ending)", "(endet)"),
    (
        "admin.webhook_events",
        "Webhook events",
        "Webhook-Ereignisse",
    ),
    ("admin.no_events", "No events.", "Keine Ereignisse."),
    ("admin.event_type", "Event", "Ereignis"),
    ("admin.received", "Received", "Empfangen"),
    ("admin.retry", "Retry", "Erneut versuchen"),
    (
        "admin.sync_billing",
        "Sync with Stripe",
        "Mit Stripe abgleichen",
    ),
    ("admin.user_billing", "Billing", "Abrechnung"),
    ("admin.no_billing", "Nothing bought.", "Nichts gekauft."),
    (
        "billing.days_number",
        "a whole number of days",
        "eine ganze Zahl von Tagen",
    ),
    ("event_status.pending", "Waiting", "Wartend"),
    ("event_status.processed", "Applied", "Angewendet"),
    ("event_status.ignored", "Ignored", "Ignoriert"),
    ("event_status.failed", "Failed", "Fehlgeschlagen"),
    ("subscription.active", "Active", "Aktiv"),
    ("subscription.trialing", "Trial", "Testphase"),
    (
        "subscription.past_due",
        "Payment overdue",
        "Zahlung überfällig",
    ),
    ("subscription.unpaid", "Unpaid", "Unbezahlt"),
    ("subscription.canceled", "Ended", "Beendet"),
    ("subscription.incomplete", "Incomplete", "Unvollständig"),
    ("subscription.incomplete_expired", "Expired", "Abgelaufen"),
    ("subscription.paused", "Paused", "Pausiert"),
    (
        "done.price_added",
        "The price is on sale.",
        "Der Preis ist im Verkauf.",
    ),
    (
        "done.price_changed",
        "The price was changed.",
        "Der Preis wurde geändert.",
    ),
    (
        "done.event_retried",
        "The event was applied again.",
        "Das Ereignis wurde erneut angewendet.",
    ),
    (
        "done.billing_synced",
        "Synced with Stripe.",
        "Mit Stripe abgeglichen.",
    ),
    ("billing.heading", "Buy access", "Zugang kaufen"),
    (
        "billing.checkout_success",
        "Thank you! Your access follows in a moment, as soon as Stripe confirms the payment.",
        "Danke! Dein Zugang folgt in einem Moment, sobald Stripe die Zahlung bestätigt.",
    ),
    (
        "billing.checkout_cancel",
        "Nothing was bought.",
        "Es wurde nichts gekauft.",
    ),
    (
        "billing.renews",
        "Your subscription to {0} renews on {1}.",
        "Dein Abo für {0} verlängert sich am {1}.",
    ),
    (
        "billing.ends",
        "Your subscription to {0} ends on {1}.",
        "Dein Abo für {0} endet am {1}.",
    ),
    (
        "billing.ended",
        "Your subscription to {0} ended; access until {1}.",
        "Dein Abo für {0} ist beendet; Zugang bis {1}.",
    ),
    (
        "billing.failed",
        "The last payment for {0} failed — update your card under Manage billing.",
        "Die letzte Zahlung für {0} ist fehlgeschlagen — ändere deine Karte unter „Abrechnung verwalten“.",
    ),
    ("billing.manage", "Manage billing", "Abrechnung verwalten"),
    ("billing.subscribe", "Subscribe", "Abonnieren"),
    ("billing.buy", "Buy", "Kaufen"),
    (
        "billing.sign_in_to_buy",
        "Sign in to buy",
        "Zum Kaufen anmelden",
    ),
    ("billing.payments", "Payments", "Zahlungen"),
    ("billing.date", "Date", "Datum"),
    ("billing.amount", "Amount", "Betrag"),
    ("billing.status", "Status", "Status"),
    (
        "billing.pass",
        "{0} days of access, once",
        "{0} Tage Zugang, einmalig",
    ),
    ("billing.per.day", "per day", "pro Tag"),
    ("billing.per.week", "per week", "pro Woche"),
    ("billing.per.month", "per month", "pro Monat"),
    ("billing.per.year", "per year", "pro Jahr"),
    ("billing.every.day", "every {0} days", "alle {0} Tage"),
    ("billing.every.week", "every {0} weeks", "alle {0} Wochen"),
    ("billing.every.month", "every {0} months", "alle {0} Monate"),
    ("billing.every.year", "every {0} years", "alle {0} Jahre"),
    (
        "billing.refused_running",
        "A subscription runs already: change or cancel it under Manage billing.",
        "Es läuft schon ein Abo: ändere oder kündige es unter „Abrechnung verwalten“.",
    ),
    (
        "billing.refused_no_account",
        "Nothing was bought with this account yet.",
        "Mit diesem Konto wurde noch nichts gekauft.",
    ),
    (
        "billing.refused_off",
        "Payments are not set up on this server.",
        "Zahlungen sind auf diesem Server nicht eingerichtet.",
    ),
    (
        "billing.refused_unverified",
        "Please confirm your e-mail address first: we sent you a link.",
        "Bitte bestätige zuerst deine E-Mail-Adresse: wir haben dir einen Link geschickt.",
    ),
    (
        "billing.refused_no_price",
        "This price is not on sale.",
        "Dieser Preis ist nicht im Verkauf.",
    ),
    (
        "billing.refused_failed",
        "The payment provider did not answer; nothing was changed. Please try again.",
        "Der Zahlungsanbieter hat nicht geantwortet; nichts wurde geändert. Bitte versuche es erneut.",
    ),
    ("billing.compare", "Compare the plans", "Pläne vergleichen"),
    ("payment.paid", "Paid", "Bezahlt"),
    ("payment.failed", "Failed", "Fehlgeschlagen"),
    ("payment.refunded", "Refunded", "Erstattet"),
    ("payment.disputed", "Disputed", "Angefochten"),
    (
        "payment.dispute_lost",
        "Dispute lost",
        "Anfechtung verloren",
    ),
    ("pricing.title", "Prices", "Preise"),
    (
        "pricing.lead",
        "The plans side by side: what each includes, and what it costs.",
        "Die Pläne nebeneinander: was jeder enthält und was er kostet.",
    ),
    ("pricing.includes", "Includes", "Enthält"),
    ("plan.from_stripe", "bought", "gekauft"),
    // layout and navigation
    ("layout.skip", "Skip to the content", "Zum Inhalt springen"),
    ("layout.api", "API", "API"),
    ("nav.label", "Main", "Hauptnavigation"),
    ("nav.dashboard", "Overview", "Übersicht"),
    ("nav.weight", "Weight", "Gewicht"),
    ("nav.measurements", "Measurements", "Umfänge"),
    ("nav.body_fat", "Body fat", "Körperfett"),
    ("nav.nutrition", "Nutrition", "Ernährung"),
    ("nav.activity", "Activity", "Aktivität"),
    ("nav.photos", "Photos", "Fotos"),
    ("nav.insights", "Insights", "Auswertungen"),
    ("nav.plan", "My plan", "Mein Tarif"),
    ("nav.account", "Account", "Konto"),
    ("nav.admin", "Admin", "Verwaltung"),
    ("nav.sign_out", "Sign out", "Abmelden"),
    // errors
    ("error.not_found", "Page not found", "Seite nicht gefunden"),
    (
        "error.not_found_text",
        "There is nothing at this address.",
        "Unter dieser Adresse gibt es nichts.",
    ),
    ("error.forbidden", "Not allowed", "Nicht erlaubt"),
    (
        "error.forbidden_text",
        "You may not open this page, or the form was not sent from Mitai. Please try again from the page itself.",
        "Du darfst diese Seite nicht öffnen, oder das Formular kam nicht von Mitai. Bitte versuche es auf der Seite selbst noch einmal.",
    ),
    (
        "error.rate_limited",
        "Too many attempts",
        "Zu viele Versuche",
    ),
    (
        "error.rate_limited_text",
        "Too many attempts. Please wait a few minutes and try again.",
        "Zu viele Versuche. Bitte warte ein paar Minuten und versuche es dann noch einmal.",
    ),
    (
        "error.bad_request",
        "That did not work",
        "Das hat nicht geklappt",
    ),
    (
        "error.bad_request_text",
        "The request could not be read. Please go back and try again.",
        "Die Anfrage war nicht lesbar. Bitte geh zurück und versuche es noch einmal.",
    ),
    (
        "error.internal",
        "Something went wrong",
        "Etwas ist schiefgegangen",
    ),
    (
        "error.internal_text",
        "Something went wrong on our side. Nothing you entered was lost; please try again in a moment.",
        "Bei uns ist etwas schiefgegangen. Nichts von deinen Eingaben ist verloren; bitte versuche es gleich noch einmal.",
    ),
    ("error.home", "To the overview", "Zur Übersicht"),
    // fields
    ("f.email", "E-mail address", "E-Mail-Adresse"),
    ("f.password", "Password", "Passwort"),
    (
        "f.new_password",
        "New password (8–128 characters)",
        "Neues Passwort (8–128 Zeichen)",
    ),
    (
        "f.current_password",
        "Current password",
        "Aktuelles Passwort",
    ),
    ("f.name", "Name", "Name"),
    ("f.name_optional", "Name (optional)", "Name (freiwillig)"),
    ("f.language", "Language", "Sprache"),
    ("f.units", "Units", "Einheiten"),
    ("units.metric", "Metric (kg, cm)", "Metrisch (kg, cm)"),
    ("units.imperial", "Imperial (lb, in)", "Imperial (lb, in)"),
    ("f.height_cm", "Height (cm)", "Größe (cm)"),
    ("f.height_in", "Height (in)", "Größe (in)"),
    ("f.birth_date", "Birth date", "Geburtsdatum"),
    (
        "f.sex",
        "Sex (for body-fat formulas)",
        "Geschlecht (für die Körperfett-Formeln)",
    ),
    ("f.not_said", "Not said", "Keine Angabe"),
    ("sex.female", "Female", "Weiblich"),
    ("sex.male", "Male", "Männlich"),
    ("f.goal_weight_kg", "Goal weight (kg)", "Zielgewicht (kg)"),
    ("f.goal_weight_lb", "Goal weight (lb)", "Zielgewicht (lb)"),
    (
        "f.timezone",
        "Time zone (e.g. Europe/Berlin; empty: the app's)",
        "Zeitzone (z. B. Europe/Berlin; leer: die der App)",
    ),
    ("account.body", "You", "Über dich"),
    (
        "account.body_intro",
        "Optional. Your height gives the BMI, birth date and sex fill in the body-fat form, the goal shows on the weight page.",
        "Freiwillig. Aus der Größe wird der BMI, Geburtsdatum und Geschlecht füllen das Körperfett-Formular vor, das Ziel steht auf der Gewichtsseite.",
    ),
    ("f.date", "Date", "Datum"),
    ("f.note", "Note", "Notiz"),
    ("f.weight_kg", "Weight", "Gewicht"),
    ("f.age", "Age", "Alter"),
    ("f.kcal", "Energy", "Energie"),
    (
        "f.kcal_optional",
        "Energy (optional)",
        "Energie (freiwillig)",
    ),
    ("f.protein_g", "Protein", "Eiweiß"),
    ("f.carbs_g", "Carbohydrates", "Kohlenhydrate"),
    ("f.fat_g", "Fat", "Fett"),
    ("f.kind", "Kind of activity", "Art der Aktivität"),
    ("f.minutes", "Minutes", "Minuten"),
    ("f.code", "Coupon code", "Gutscheincode"),
    (
        "field.range",
        "Allowed are values from {0} to {1}.",
        "Erlaubt sind Werte von {0} bis {1}.",
    ),
    (
        "field.date",
        "Please enter a date.",
        "Bitte gib ein Datum ein.",
    ),
    (
        "field.email",
        "Please enter an e-mail address.",
        "Bitte gib eine E-Mail-Adresse ein.",
    ),
    (
        "field.password",
        "The password needs 8 to 128 characters.",
        "Das Passwort braucht 8 bis 128 Zeichen.",
    ),
    ("field.too_long", "This is too long.", "Das ist zu lang."),
    (
        "field.too_long_n",
        "At most {0} characters.",
        "Höchstens {0} Zeichen.",
    ),
    (
        "field.future",
        "This date is in the future.",
        "Dieses Datum liegt in der Zukunft.",
    ),
    (
        "field.invalid",
        "This value is not valid.",
        "Dieser Wert ist nicht gültig.",
    ),
    (
        "field.control",
        "Please use letters, digits and punctuation only (no control characters).",
        "Bitte nur Buchstaben, Ziffern und Satzzeichen (keine Steuerzeichen).",
    ),
    (
        "field.required",
        "Please fill this in.",
        "Bitte fülle das aus.",
    ),
    (
        "field.number",
        "Please enter a number, such as 72.5.",
        "Bitte gib eine Zahl ein, zum Beispiel 72,5.",
    ),
    (
        "field.whole_number",
        "Please enter a whole number.",
        "Bitte gib eine ganze Zahl ein.",
    ),
    // actions and confirmations
    ("action.save", "Save", "Speichern"),
    ("action.edit", "Edit", "Bearbeiten"),
    ("action.cancel", "Cancel", "Abbrechen"),
    ("action.add", "Add", "Hinzufügen"),
    ("action.delete", "Delete", "Löschen"),
    ("action.import", "Import", "Importieren"),
    ("action.compare", "Compare", "Vergleichen"),
    ("action.redeem", "Redeem", "Einlösen"),
    ("done.saved", "Saved.", "Gespeichert."),
    (
        "done.password_changed",
        "Your password is changed. Your other sessions were signed out.",
        "Dein Passwort ist geändert. Deine anderen Sitzungen wurden abgemeldet.",
    ),
    (
        "done.invited",
        "The invitation is on its way.",
        "Die Einladung ist unterwegs.",
    ),
    (
        "done.signed_out",
        "You are signed out.",
        "Du bist abgemeldet.",
    ),
    (
        "done.signed_out_everywhere",
        "You are signed out on every device.",
        "Du bist auf allen Geräten abgemeldet.",
    ),
    (
        "done.account_deleted",
        "Your account and your data are deleted.",
        "Dein Konto und deine Daten sind gelöscht.",
    ),
    ("done.entry_added", "Entry added.", "Eintrag hinzugefügt."),
    ("done.entry_deleted", "Entry deleted.", "Eintrag gelöscht."),
    ("done.entry_saved", "Entry saved.", "Eintrag gespeichert."),
    ("done.photo_added", "Photo added.", "Foto hinzugefügt."),
    ("done.photo_deleted", "Photo deleted.", "Foto gelöscht."),
    (
        "done.verification_sent",
        "We sent you a new confirmation link.",
        "Wir haben dir einen neuen Bestätigungslink geschickt.",
    ),
    // refusals of the feature gate
    (
        "refusal.limit",
        "{0}: you have used all {1} for this period. It resets on {2}.",
        "{0}: Du hast alle {1} für diesen Zeitraum verbraucht. Ab {2} geht es wieder.",
    ),
    (
        "refusal.over",
        "{0}: you have used {1}, more than the {2} your plan allows now. It resets on {3}.",
        "{0}: Du hast {1} verbraucht, mehr als die {2}, die dein Tarif jetzt erlaubt. Ab {3} geht es wieder.",
    ),
    (
        "refusal.over_never",
        "{0}: you have used {1}, more than the {2} your plan allows now; this limit does not reset.",
        "{0}: Du hast {1} verbraucht, mehr als die {2}, die dein Tarif jetzt erlaubt; diese Grenze setzt sich nicht zurück.",
    ),
    (
        "refusal.limit_never",
        "{0}: you have used all {1}; this limit does not reset.",
        "{0}: Du hast alle {1} verbraucht; diese Grenze setzt sich nicht zurück.",
    ),
    (
        "refusal.disabled",
        "{0} is not part of your plan right now.",
        "{0} ist gerade nicht in deinem Tarif enthalten.",
    ),
    (
        "refusal.unverified",
        "Please confirm your e-mail address first — we sent you a link. Nothing was saved.",
        "Bitte bestätige zuerst deine E-Mail-Adresse – wir haben dir einen Link geschickt. Es wurde nichts gespeichert.",
    ),
    (
        "refusal.forbidden",
        "You are not allowed to do this.",
        "Das darfst du nicht.",
    ),
    (
        "refusal.rate_limited",
        "Too many attempts. Please try again in {0} minutes.",
        "Zu viele Versuche. Bitte versuche es in {0} Minuten noch einmal.",
    ),
    ("refusal.plan_link", "See my plan", "Zu meinem Tarif"),
    // sign in, registration, passwords, links
    ("login.title", "Sign in", "Anmelden"),
    ("login.submit", "Sign in", "Anmelden"),
    ("login.register", "Create an account", "Konto anlegen"),
    (
        "login.forgot",
        "Forgot your password?",
        "Passwort vergessen?",
    ),
    (
        "login.wrong",
        "Wrong e-mail address or password.",
        "E-Mail-Adresse oder Passwort ist falsch.",
    ),
    (
        "login.disabled",
        "This account is disabled.",
        "Dieses Konto ist gesperrt.",
    ),
    (
        "login.rate_limited",
        "Too many attempts. Please try again in {0} minutes.",
        "Zu viele Versuche. Bitte versuche es in {0} Minuten noch einmal.",
    ),
    ("register.title", "Create your account", "Konto anlegen"),
    ("register.submit", "Create account", "Konto anlegen"),
    (
        "register.have_account",
        "I already have an account",
        "Ich habe schon ein Konto",
    ),
    (
        "register.invited",
        "You were invited: your account is ready as soon as you create it.",
        "Du wurdest eingeladen: Dein Konto ist bereit, sobald du es anlegst.",
    ),
    (
        "register.closed",
        "Registration is closed on this server.",
        "Auf diesem Server können keine Konten angelegt werden.",
    ),
    (
        "register.invite_only",
        "This server takes new accounts only by invitation. Ask for an invitation link.",
        "Neue Konten gibt es hier nur mit Einladung. Frag nach einem Einladungslink.",
    ),
    (
        "register.bad_invitation",
        "This invitation link is not valid (any more).",
        "Dieser Einladungslink ist (nicht mehr) gültig.",
    ),
    (
        "register.ready",
        "Your account is ready. You can sign in now.",
        "Dein Konto ist bereit. Du kannst dich jetzt anmelden.",
    ),
    (
        "register.check_mail",
        "Almost done: we sent a confirmation link to {0}. Please open it to confirm your address.",
        "Fast geschafft: Wir haben einen Bestätigungslink an {0} geschickt. Bitte öffne ihn, um deine Adresse zu bestätigen.",
    ),
    (
        "register.taken",
        "An account with this e-mail address exists already.",
        "Zu dieser E-Mail-Adresse gibt es schon ein Konto.",
    ),
    (
        "forgot.title",
        "Forgot your password?",
        "Passwort vergessen?",
    ),
    (
        "forgot.intro",
        "Enter your e-mail address and we will send you a link to choose a new password.",
        "Gib deine E-Mail-Adresse ein, und wir schicken dir einen Link, mit dem du ein neues Passwort wählst.",
    ),
    ("forgot.submit", "Send the link", "Link schicken"),
    (
        "forgot.sent",
        "If an account has this address, a link to reset the password is on its way. It works for one hour.",
        "Falls es ein Konto mit dieser Adresse gibt, ist ein Link zum Zurücksetzen unterwegs. Er gilt eine Stunde.",
    ),
    (
        "verify.title",
        "Confirm your e-mail address",
        "E-Mail-Adresse bestätigen",
    ),
    (
        "verify.intro",
        "Press the button to confirm that this address is yours.",
        "Drück den Knopf, um zu bestätigen, dass diese Adresse dir gehört.",
    ),
    ("verify.submit", "Confirm my address", "Adresse bestätigen"),
    (
        "verify.done",
        "Thank you! Your e-mail address is confirmed.",
        "Danke! Deine E-Mail-Adresse ist bestätigt.",
    ),
    (
        "verify.invalid",
        "This link is not valid or has expired. You can ask for a new one on your account page.",
        "Dieser Link ist ungültig oder abgelaufen. Auf deiner Kontoseite kannst du einen neuen anfordern.",
    ),
    (
        "reset.title",
        "Choose a new password",
        "Neues Passwort wählen",
    ),
    ("reset.submit", "Set password", "Passwort setzen"),
    (
        "reset.done",
        "Your new password is set and every session was signed out. Please sign in.",
        "Dein neues Passwort ist gesetzt, und alle Sitzungen wurden abgemeldet. Bitte melde dich an.",
    ),
    (
        "reset.invalid",
        "This link is not valid or has expired. Please ask for a new one.",
        "Dieser Link ist ungültig oder abgelaufen. Bitte fordere einen neuen an.",
    ),
    // account
    ("account.title", "Account", "Konto"),
    ("account.profile", "Profile", "Profil"),
    (
        "account.unverified",
        "not confirmed yet",
        "noch nicht bestätigt",
    ),
    (
        "account.resend",
        "Send the confirmation link again",
        "Bestätigungslink noch einmal schicken",
    ),
    ("account.password", "Password", "Passwort"),
    (
        "account.change_password",
        "Change password",
        "Passwort ändern",
    ),
    (
        "account.wrong_password",
        "This is not your current password.",
        "Das ist nicht dein aktuelles Passwort.",
    ),
    ("account.exports", "Your data", "Deine Daten"),
    (
        "account.exports_intro",
        "Download everything you entered. Each download counts towards its limit in your plan.",
        "Lade alles herunter, was du eingetragen hast. Jeder Download zählt zu seiner Grenze in deinem Tarif.",
    ),
    ("account.download", "Download {0}", "{0} herunterladen"),
    (
        "account.export_off",
        "Not in your plan.",
        "Nicht in deinem Tarif.",
    ),
    (
        "account.export_used_up",
        "Used up for now; again from {0}.",
        "Für jetzt aufgebraucht; wieder ab {0}.",
    ),
    (
        "account.export_used_up_never",
        "Used up; this limit does not reset.",
        "Aufgebraucht; diese Grenze setzt sich nicht zurück.",
    ),
    (
        "account.export_unverified",
        "Confirm your e-mail address first.",
        "Bestätige zuerst deine E-Mail-Adresse.",
    ),
    ("account.invite", "Invite someone", "Jemanden einladen"),
    (
        "account.send_invitation",
        "Send invitation",
        "Einladung schicken",
    ),
    (
        "account.reminder",
        "Weigh-in reminder",
        "Erinnerung ans Wiegen",
    ),
    (
        "account.reminder_intro",
        "An e-mail on the days you choose, at your time ({0}), unless you have weighed in that day already.",
        "Eine E-Mail an den Tagen deiner Wahl, zu deiner Uhrzeit ({0}), außer du hast dich an dem Tag schon gewogen.",
    ),
    ("account.reminder_days", "Days", "Tage"),
    ("account.reminder_time", "Time", "Uhrzeit"),
    (
        "account.reminder_off",
        "No day ticked or no time: no reminder.",
        "Kein Tag angekreuzt oder keine Uhrzeit: keine Erinnerung.",
    ),
    ("day.mon", "Mon", "Mo"),
    ("day.tue", "Tue", "Di"),
    ("day.wed", "Wed", "Mi"),
    ("day.thu", "Thu", "Do"),
    ("day.fri", "Fri", "Fr"),
    ("day.sat", "Sat", "Sa"),
    ("day.sun", "Sun", "So"),
    ("account.sessions", "Sessions", "Sitzungen"),
    ("account.delete", "Delete my account", "Mein Konto löschen"),
    (
        "account.delete_intro",
        "This deletes, for good and at once:",
        "Das löscht endgültig und sofort:",
    ),
    (
        "account.delete_data",
        "your profile and every entry: weight, circumference, caliper, nutrition, activity",
        "dein Profil und alle Einträge: Gewicht, Umfang, Caliper, Ernährung, Aktivität",
    ),
    (
        "account.delete_photos",
        "your progress photos and AI insights",
        "deine Fortschrittsfotos und KI-Auswertungen",
    ),
    (
        "account.delete_access",
        "your plan, redeemed coupons and access periods",
        "deinen Tarif, eingelöste Gutscheine und Zugänge",
    ),
    (
        "account.delete_sessions",
        "your sign-ins on every device",
        "deine Anmeldungen auf allen Geräten",
    ),
    (
        "account.delete_kept",
        "The activity log keeps what happened, without your name, e-mail or address. Download your data above first if you want to keep it.",
        "Das Aktivitätsprotokoll behält, was geschah, ohne deinen Namen, deine E-Mail oder Adresse. Lade deine Daten vorher oben herunter, wenn du sie behalten willst.",
    ),
    (
        "account.delete_confirm",
        "Your password, to confirm",
        "Dein Passwort zur Bestätigung",
    ),
    (
        "account.delete_wrong_password",
        "This is not your password; nothing was deleted.",
        "Das ist nicht dein Passwort; nichts wurde gelöscht.",
    ),
    (
        "account.delete_last_admin",
        "You are the only admin. Make someone else an admin first.",
        "Du bist der einzige Admin. Mache zuerst jemand anderen zum Admin.",
    ),
    (
        "account.sessions_intro",
        "Signed in on a device you no longer use? Sign out everywhere, this device included.",
        "Auf einem Gerät angemeldet, das du nicht mehr nutzt? Melde dich überall ab, auch hier.",
    ),
    (
        "account.sign_out_everywhere",
        "Sign out everywhere",
        "Überall abmelden",
    ),
    // dashboard
    ("dashboard.hello", "Hello, {0}", "Hallo, {0}"),
    (
        "dashboard.trial_left",
        "Your {1} trial ends in {0} days.",
        "Deine Testphase mit {1} endet in {0} Tagen.",
    ),
    (
        "dashboard.trial_ends_on",
        "Your trial ends on {0}; from then you have the {1} plan.",
        "Deine Testphase endet am {0}; ab dann hast du den Tarif {1}.",
    ),
    (
        "dashboard.plan_changes_on",
        "Your access ends on {0}; from then you have the {1} plan.",
        "Dein Zugang endet am {0}; ab dann hast du den Tarif {1}.",
    ),
    (
        "dashboard.over_after",
        "{0}: {1} from then — you have used {2}.",
        "{0}: ab dann {1} — du hast {2} genutzt.",
    ),
    (
        "dashboard.off_after",
        "{0}: not in that plan — you have used {1}.",
        "{0}: nicht in diesem Tarif — du hast {1} genutzt.",
    ),
    (
        "dashboard.see_plan",
        "What my plan includes",
        "Was mein Tarif enthält",
    ),
    (
        "dashboard.quick_weight",
        "Today's weight",
        "Gewicht von heute",
    ),
    ("dashboard.usage", "This period", "Dieser Zeitraum"),
    ("dashboard.used_n", "{0} used", "{0} genutzt"),
    (
        "dashboard.verify_first",
        "Please confirm your e-mail address — until then nothing can be saved. We sent you a link.",
        "Bitte bestätige deine E-Mail-Adresse – bis dahin kann nichts gespeichert werden. Wir haben dir einen Link geschickt.",
    ),
    // charts and lists
    (
        "chart.empty",
        "No entries yet — the chart appears with the first one.",
        "Noch keine Einträge – das Diagramm erscheint mit dem ersten.",
    ),
    ("chart.numbers", "The numbers", "Die Zahlen"),
    ("entries.none", "No entries yet.", "Noch keine Einträge."),
    ("entries.older", "Older entries", "Ältere Einträge"),
    ("entries.actions", "Change", "Ändern"),
    ("entries.edit_title", "Change the entry", "Eintrag ändern"),
    (
        "entries.edit_one",
        "Edit the entry of {0}",
        "Eintrag vom {0} bearbeiten",
    ),
    (
        "entries.delete_confirm",
        "Delete the entry of {0}?",
        "Eintrag vom {0} löschen?",
    ),
    ("entries.delete_yes", "Yes, delete", "Ja, löschen"),
    (
        "entries.conflict",
        "The entry was changed at the same time; look and save again.",
        "Der Eintrag wurde gleichzeitig geändert; sieh nach und speichere erneut.",
    ),
    (
        "entries.delete_one",
        "Delete the entry of {0}",
        "Eintrag vom {0} löschen",
    ),
    ("range.30d", "30 days", "30 Tage"),
    ("range.90d", "90 days", "90 Tage"),
    ("range.1y", "1 year", "1 Jahr"),
    ("range.all", "All", "Alles"),
    // weight
    ("weight.title", "Weight", "Gewicht"),
    ("weight.add", "Add a weight", "Gewicht eintragen"),
    (
        "weight.same_day",
        "Two weigh-ins on one day are both kept; the chart and the trend use their mean.",
        "Zwei Wiegungen an einem Tag bleiben beide erhalten; Diagramm und Trend nehmen ihren Mittelwert.",
    ),
    ("weight.chart", "Progress", "Verlauf"),
    (
        "weight.chart_label",
        "Weight over time with the 7-day average",
        "Gewicht im Verlauf mit dem 7-Tage-Mittel",
    ),
    ("weight.range", "Time range", "Zeitraum"),
    ("weight.raw", "Measured", "Gemessen"),
    ("weight.average", "7-day average", "7-Tage-Mittel"),
    ("weight.summary", "At a glance", "Auf einen Blick"),
    ("weight.latest", "Latest", "Zuletzt"),
    ("weight.bmi", "BMI {0}", "BMI {0}"),
    ("weight.trend", "Trend", "Trend"),
    ("weight.rate", "{0} a week", "{0} pro Woche"),
    ("weight.goal", "Goal", "Ziel"),
    (
        "weight.reach",
        "at this rate reached around {0}",
        "in diesem Tempo erreicht um den {0}",
    ),
    (
        "weight.reach_never",
        "not reached at this rate",
        "in diesem Tempo nicht erreicht",
    ),
    ("weight.reached", "reached", "erreicht"),
    ("weight.no_goal", "Set a goal", "Ziel festlegen"),
    ("weight.change_week", "Last 7 days", "Letzte 7 Tage"),
    ("weight.change_month", "Last 30 days", "Letzte 30 Tage"),
    (
        "weight.change_start",
        "Since the first weigh-in",
        "Seit dem ersten Wiegen",
    ),
    (
        "weight.range_seen",
        "Lowest – highest",
        "Niedrigstes – höchstes",
    ),
    ("weight.entries", "Entries", "Einträge"),
    (
        "weight.import",
        "Import a CSV file",
        "CSV-Datei importieren",
    ),
    (
        "weight.import_intro",
        "A CSV export of openScale or Libra, or one weight per line: date,weight_kg (or weight_lb in the header) and an optional note (a semicolon works too, and 72,5 with a decimal comma). Weigh-ins already here are skipped. Each new one counts like a single entry; if they do not fit your limit, nothing is imported.",
        "Ein CSV-Export von openScale oder Libra, oder ein Gewicht pro Zeile: Datum,Gewicht (weight_kg oder weight_lb in der Kopfzeile) und eine freiwillige Notiz (Semikolon geht auch, und 72,5 mit Dezimalkomma). Schon vorhandene Wiegungen werden übersprungen. Jede neue zählt wie ein einzelner Eintrag; passen sie nicht in deine Grenze, wird nichts importiert.",
    ),
    ("weight.import_file", "CSV file", "CSV-Datei"),
    (
        "import.columns",
        "expected date, weight and an optional note",
        "erwartet sind Datum, Gewicht und eine freiwillige Notiz",
    ),
    (
        "import.report",
        "{0} lines read: {1} added, {2} already there, {3} refused.",
        "{0} Zeilen gelesen: {1} hinzugefügt, {2} schon vorhanden, {3} abgelehnt.",
    ),
    ("import.line", "Line {0}: {1}", "Zeile {0}: {1}"),
    ("import.more", "… and {0} more.", "… und {0} weitere."),
    (
        "import.empty",
        "The file has no weights.",
        "Die Datei enthält keine Gewichte.",
    ),
    (
        "import.not_text",
        "The file is not a text (UTF-8) file.",
        "Die Datei ist keine Textdatei (UTF-8).",
    ),
    (
        "import.too_many",
        "At most {0} lines at once.",
        "Höchstens {0} Zeilen auf einmal.",
    ),
    // measurements
    ("measurements.title", "Measurements", "Umfänge"),
    ("measurements.add", "Add measurements", "Umfänge eintragen"),
    (
        "measurements.hint",
        "In centimetres; fill in the sites you measured (at least one).",
        "In Zentimetern; trag die Stellen ein, die du gemessen hast (mindestens eine).",
    ),
    (
        "measurements.one_site",
        "Please enter at least one measurement.",
        "Bitte trag mindestens einen Umfang ein.",
    ),
    (
        "measurements.since_first",
        "{0} since the first entry",
        "{0} seit dem ersten Eintrag",
    ),
    ("measurements.entries", "Entries", "Einträge"),
    ("site.neck", "Neck", "Hals"),
    ("site.chest", "Chest", "Brust"),
    ("site.waist", "Waist", "Taille"),
    ("site.hip", "Hip", "Hüfte"),
    ("site.thigh", "Thigh", "Oberschenkel"),
    ("site.arm", "Arm", "Arm"),
    ("site.calf", "Calf", "Wade"),
    ("site.abdomen", "Abdomen", "Bauch"),
    ("site.triceps", "Triceps", "Trizeps"),
    ("site.suprailiac", "Suprailiac", "Hüftknochen"),
    ("site.midaxillary", "Midaxillary", "Seite (Achsellinie)"),
    ("site.subscapular", "Subscapular", "Schulterblatt"),
    // body fat
    ("body_fat.title", "Body fat", "Körperfett"),
    (
        "body_fat.add",
        "Add a caliper measurement",
        "Caliper-Messung eintragen",
    ),
    ("body_fat.method", "Method", "Methode"),
    ("body_fat.jp3_male", "3 sites, men", "3 Stellen, Männer"),
    ("body_fat.jp3_female", "3 sites, women", "3 Stellen, Frauen"),
    ("body_fat.jp7_male", "7 sites, men", "7 Stellen, Männer"),
    ("body_fat.jp7_female", "7 sites, women", "7 Stellen, Frauen"),
    (
        "body_fat.chart",
        "Body fat over time",
        "Körperfett im Verlauf",
    ),
    ("body_fat.results", "Results", "Ergebnisse"),
    ("body_fat.pct", "Body fat", "Körperfett"),
    ("body_fat.fat_mass", "Fat mass", "Fettmasse"),
    ("body_fat.lean_mass", "Lean mass", "Magermasse"),
    ("body_fat.weight_used", "Weight used", "Gewicht dazu"),
    (
        "body_fat.mass_note",
        "Fat and lean mass use the weight entry nearest to the day of the measurement (Jackson–Pollock, Siri).",
        "Fett- und Magermasse nutzen das Gewicht, das dem Messtag am nächsten liegt (Jackson–Pollock, Siri).",
    ),
    // nutrition
    ("nutrition.today", "Today", "Heute"),
    (
        "nutrition.no_targets",
        "Set daily targets to see today against them.",
        "Setze Tagesziele, um heute daran zu messen.",
    ),
    ("nutrition.targets", "Daily targets", "Tagesziele"),
    (
        "nutrition.targets_intro",
        "Leave a field empty for no target.",
        "Ein leeres Feld heißt: kein Ziel.",
    ),
    (
        "nutrition.of_target",
        "{0} of {1} {2} ({3} %)",
        "{0} von {1} {2} ({3} %)",
    ),
    ("nutrition.title", "Nutrition", "Ernährung"),
    ("nutrition.add", "Add a meal", "Mahlzeit eintragen"),
    (
        "nutrition.chart",
        "Energy per day, last 30 days",
        "Energie pro Tag, letzte 30 Tage",
    ),
    ("nutrition.totals", "Daily totals", "Tagessummen"),
    ("nutrition.entries", "Entries", "Einträge"),
    // activity
    ("activity.title", "Activity", "Aktivität"),
    ("activity.add", "Add an activity", "Aktivität eintragen"),
    ("activity.chart", "Minutes per week", "Minuten pro Woche"),
    ("activity.week", "Week", "Woche"),
    ("activity.week_from", "Week from {0}", "Woche ab {0}"),
    ("activity.entries", "Entries", "Einträge"),
    // photos
    ("photos.title", "Photos", "Fotos"),
    ("photos.upload", "Add a photo", "Foto hinzufügen"),
    (
        "photos.file",
        "Photo (JPEG, PNG or WebP)",
        "Foto (JPEG, PNG oder WebP)",
    ),
    ("photos.taken_on", "Taken on", "Aufgenommen am"),
    ("photos.submit", "Upload", "Hochladen"),
    (
        "photos.privacy",
        "Location and camera data are removed before the photo is stored.",
        "Standort- und Kameradaten werden entfernt, bevor das Foto gespeichert wird.",
    ),
    (
        "photos.compare",
        "Compare two days",
        "Zwei Tage vergleichen",
    ),
    (
        "photos.compare_need_two",
        "Add two photos to compare them.",
        "Füge zwei Fotos hinzu, um sie zu vergleichen.",
    ),
    ("photos.first", "First", "Erstes"),
    ("photos.second", "Second", "Zweites"),
    ("photos.all", "All photos", "Alle Fotos"),
    ("photos.view", "View", "Ansicht"),
    ("photos.side_by_side", "Side by side", "Nebeneinander"),
    ("photos.slider", "Slider", "Schieberegler"),
    ("photos.overlay", "Overlay", "Überlagert"),
    (
        "photos.slider_help",
        "{0} on the left, {1} beneath: drag the handle at the bottom right of the line.",
        "{0} links, {1} darunter: zieh den Griff unten rechts an der Linie.",
    ),
    (
        "photos.overlay_help",
        "{0} with {1} half see-through on top.",
        "{0} mit {1} halb durchsichtig darüber.",
    ),
    (
        "photos.full_size",
        "Open in full size",
        "In voller Größe öffnen",
    ),
    ("photos.none", "No photos yet.", "Noch keine Fotos."),
    (
        "photos.alt",
        "Progress photo of {0}",
        "Fortschrittsfoto vom {0}",
    ),
    (
        "photos.no_weight",
        "no weight that week",
        "kein Gewicht in dieser Woche",
    ),
    (
        "photos.delete_one",
        "Delete the photo of {0}",
        "Foto vom {0} löschen",
    ),
    (
        "photos.too_large",
        "This file is too large.",
        "Diese Datei ist zu groß.",
    ),
    (
        "photos.not_image",
        "This is not a JPEG, PNG or WebP image.",
        "Das ist kein JPEG-, PNG- oder WebP-Bild.",
    ),
    // insights
    ("insights.title", "Insights", "Auswertungen"),
    (
        "insights.ask",
        "Ask about your progress",
        "Frag nach deinem Fortschritt",
    ),
    (
        "insights.question",
        "Your question (optional)",
        "Deine Frage (freiwillig)",
    ),
    ("insights.submit", "Ask", "Fragen"),
    (
        "insights.calls_left",
        "AI calls left this period: {0}",
        "KI-Anfragen in diesem Zeitraum übrig: {0}",
    ),
    (
        "insights.privacy",
        "The AI sees your measurements and notes of the last 90 days — never your name or e-mail address.",
        "Die KI sieht deine Messwerte und Notizen der letzten 90 Tage – nie deinen Namen oder deine E-Mail-Adresse.",
    ),
    ("insights.pipeline", "Full analysis", "Ausführliche Analyse"),
    (
        "insights.pipeline_intro",
        "Three steps: a summary, the patterns in it, and recommendations for the next four weeks. Each step uses one AI call.",
        "Drei Schritte: eine Zusammenfassung, die Muster darin und Empfehlungen für die nächsten vier Wochen. Jeder Schritt nutzt eine KI-Anfrage.",
    ),
    ("insights.run", "Run the analysis", "Analyse starten"),
    (
        "insights.pipeline_off",
        "The full analysis is not part of your plan.",
        "Die ausführliche Analyse ist nicht in deinem Tarif enthalten.",
    ),
    (
        "insights.unavailable",
        "No AI provider is set up on this server, so insights are not available.",
        "Auf diesem Server ist keine KI eingerichtet, deshalb gibt es keine Auswertungen.",
    ),
    (
        "insights.failed",
        "The AI did not answer in time. Nothing was counted; please try again later.",
        "Die KI hat nicht rechtzeitig geantwortet. Es wurde nichts gezählt; bitte versuche es später noch einmal.",
    ),
    ("insights.recent", "Recent answers", "Letzte Antworten"),
    ("insights.none", "No answers yet.", "Noch keine Antworten."),
    ("insights.step.summary", "Summary", "Zusammenfassung"),
    ("insights.step.patterns", "Patterns", "Muster"),
    (
        "insights.step.recommendations",
        "Recommendations",
        "Empfehlungen",
    ),
    // plan
    ("plan.title", "My plan", "Mein Tarif"),
    ("plan.your_tier", "Your plan", "Dein Tarif"),
    (
        "plan.why_base",
        "This is your account's plan.",
        "Das ist der Tarif deines Kontos.",
    ),
    (
        "plan.why_trial",
        "You are trying it out until {0}.",
        "Du testest ihn bis {0}.",
    ),
    (
        "plan.why_coupon",
        "From the coupon {0}.",
        "Aus dem Gutschein {0}.",
    ),
    (
        "plan.why_grant",
        "Given to you by an administrator.",
        "Von einer Administratorin oder einem Administrator für dich freigeschaltet.",
    ),
    ("plan.features", "What you may do", "Was du tun kannst"),
    ("plan.feature", "Feature", "Funktion"),
    ("plan.limit", "Limit", "Grenze"),
    ("plan.used", "Used", "Genutzt"),
    ("plan.remaining", "Left", "Übrig"),
    ("plan.resets", "Resets", "Zurückgesetzt"),
    ("plan.source", "Why", "Warum"),
    ("plan.off", "off", "aus"),
    ("plan.on", "included", "enthalten"),
    ("plan.unlimited", "unlimited", "unbegrenzt"),
    ("plan.per_period", "{0} per {1}", "{0} pro {1}"),
    ("plan.used_of", "{0} of {1}", "{0} von {1}"),
    (
        "plan.used_over",
        "{0} of {1} — {2} over the limit",
        "{0} von {1} — {2} über der Grenze",
    ),
    (
        "plan.grants",
        "Access from coupons and grants",
        "Zugang aus Gutscheinen und Freischaltungen",
    ),
    (
        "plan.timeline",
        "When each grant runs, waits or is paused",
        "Wann jede Freischaltung läuft, wartet oder pausiert",
    ),
    (
        "plan.no_grants",
        "No coupons or grants yet.",
        "Noch keine Gutscheine oder Freischaltungen.",
    ),
    ("plan.now", "now", "jetzt"),
    ("plan.days_left", "{0} days left", "noch {0} Tage"),
    ("plan.ends", "until {0}", "bis {0}"),
    ("plan.paused_because", "paused: {0}", "pausiert: {0}"),
    ("plan.from_coupon", "coupon {0}", "Gutschein {0}"),
    (
        "plan.from_admin",
        "from an administrator",
        "von der Verwaltung",
    ),
    ("plan.redeem", "Redeem a coupon", "Gutschein einlösen"),
    (
        "plan.redeemed",
        "Redeemed: you now have {0}.",
        "Eingelöst: Du hast jetzt {0}.",
    ),
    (
        "plan.redeemed_until",
        "Redeemed: you have {0} until {1}.",
        "Eingelöst: Du hast {0} bis {1}.",
    ),
    (
        "plan.redeemed_days",
        "Redeemed: {1} days of {0}, starting as soon as nothing better runs.",
        "Eingelöst: {1} Tage {0}, ab dem Moment, in dem nichts Besseres läuft.",
    ),
    (
        "coupon.invalid",
        "This code is not valid.",
        "Dieser Code ist nicht gültig.",
    ),
    (
        "coupon.expired",
        "This coupon cannot be redeemed now.",
        "Dieser Gutschein kann jetzt nicht eingelöst werden.",
    ),
    (
        "coupon.exhausted",
        "This coupon has been used up.",
        "Dieser Gutschein ist aufgebraucht.",
    ),
    (
        "coupon.already",
        "You have redeemed this coupon already.",
        "Du hast diesen Gutschein schon eingelöst.",
    ),
    ("period.never", "ever", "insgesamt"),
    ("period.daily", "day", "Tag"),
    ("period.weekly", "week", "Woche"),
    ("period.monthly", "month", "Monat"),
    ("period.yearly", "year", "Jahr"),
    (
        "source.feature_inactive",
        "switched off for everyone",
        "für alle abgeschaltet",
    ),
    (
        "source.user_restriction",
        "your personal limit",
        "deine persönliche Grenze",
    ),
    ("source.tier_limit", "your plan", "dein Tarif"),
    (
        "source.feature_default",
        "the standard limit",
        "die Standardgrenze",
    ),
    ("status.running", "running", "läuft"),
    ("status.waiting", "waiting", "wartet"),
    ("status.paused", "paused", "pausiert"),
    (
        "status.paused_stacking",
        "paused (another grant runs)",
        "pausiert (eine andere läuft)",
    ),
    (
        "status.paused_admin",
        "paused by an administrator",
        "von der Verwaltung pausiert",
    ),
    ("status.expired", "expired", "abgelaufen"),
    ("status.revoked", "revoked", "widerrufen"),
    ("feature.weight", "Weight entries", "Gewichtseinträge"),
    ("feature.circumference", "Measurements", "Umfangsmessungen"),
    (
        "feature.caliper",
        "Body-fat measurements",
        "Körperfettmessungen",
    ),
    ("feature.nutrition", "Meals", "Mahlzeiten"),
    ("feature.activity", "Activities", "Aktivitäten"),
    ("feature.photos", "Photos", "Fotos"),
    ("feature.ai_calls", "AI calls", "KI-Anfragen"),
    (
        "feature.ai_pipeline",
        "Full AI analysis",
        "Ausführliche KI-Analyse",
    ),
    ("feature.export_csv", "CSV downloads", "CSV-Downloads"),
    ("feature.export_json", "JSON downloads", "JSON-Downloads"),
    ("feature.export_zip", "ZIP downloads", "ZIP-Downloads"),
    ("tier.free", "Free", "Kostenlos"),
    ("tier.basic", "Basic", "Basis"),
    ("tier.premium", "Premium", "Premium"),
    ("tier.selfhosted", "Self-hosted", "Selbst gehostet"),
    // administration
    ("admin.title", "Administration", "Verwaltung"),
    ("admin.nav", "Administration", "Verwaltung"),
    ("admin.overview", "Overview", "Übersicht"),
    ("admin.limits", "Limits", "Grenzen"),
    ("admin.features", "Features", "Funktionen"),
    ("admin.tiers", "Tiers", "Tarife"),
    ("admin.coupons", "Coupons", "Gutscheine"),
    ("admin.users", "Users", "Konten"),
    ("admin.activity", "Activity", "Aktivität"),
    ("admin.settings", "Settings", "Einstellungen"),
    ("admin.mail", "Mail", "E-Mails"),
    (
        "admin.profiles_by_tier",
        "Profiles by plan",
        "Konten nach Tarif",
    ),
    ("admin.disabled_n", "{0} disabled", "{0} gesperrt"),
    ("admin.active", "Active", "Aktiv"),
    ("admin.active_1", "today", "heute"),
    ("admin.active_7", "7 days", "7 Tage"),
    ("admin.active_30", "30 days", "30 Tage"),
    ("admin.mail_health", "Mail", "E-Mails"),
    (
        "admin.mail_queued",
        "Waiting to be sent",
        "Warten auf Versand",
    ),
    ("admin.mail_failing", "Being retried", "Werden wiederholt"),
    ("admin.mail_failed", "Given up", "Aufgegeben"),
    ("admin.mail_oldest", "Oldest waiting", "Älteste wartende"),
    ("admin.none", "none", "keine"),
    (
        "admin.usage_per_day",
        "Use per day, last 30 days",
        "Nutzung pro Tag, letzte 30 Tage",
    ),
    (
        "admin.active_at",
        "Counted at {0}; the jobs count them every minute.",
        "Gezählt um {0}; die Jobs zählen sie jede Minute.",
    ),
    (
        "admin.usage_through",
        "Counted up to {0}; the jobs add the log every minute, a minute behind.",
        "Gezählt bis {0}; die Jobs zählen das Protokoll jede Minute nach, eine Minute zurück.",
    ),
    (
        "admin.usage_not_counted",
        "Not counted yet: the jobs add the log every minute, a minute behind.",
        "Noch nicht gezählt: Die Jobs zählen das Protokoll jede Minute nach, eine Minute zurück.",
    ),
    ("admin.uses", "Uses", "Nutzungen"),
    (
        "admin.refusals",
        "Refused at the limit",
        "An der Grenze abgelehnt",
    ),
    ("admin.per_feature", "Per feature", "Pro Funktion"),
    ("admin.redemptions", "Redemptions", "Einlösungen"),
    (
        "admin.no_redemptions",
        "No redemptions yet.",
        "Noch keine Einlösungen.",
    ),
    ("admin.campaign", "Campaign", "Kampagne"),
    ("admin.tier", "Plan", "Tarif"),
    (
        "admin.limits_intro",
        "One cell per plan and feature: a number is the uses per period, empty is unlimited, 0 is off; “default” uses the feature's default limit. Every change is shown with the profiles it affects before it is saved.",
        "Eine Zelle pro Tarif und Funktion: eine Zahl ist die Nutzung pro Zeitraum, leer ist unbegrenzt, 0 ist aus; „Standard“ nimmt die Standardgrenze der Funktion. Jede Änderung wird mit den betroffenen Konten gezeigt, bevor sie gespeichert wird.",
    ),
    (
        "admin.limits_errors",
        "Some cells are not valid; nothing was saved.",
        "Einige Zellen sind ungültig; es wurde nichts gespeichert.",
    ),
    ("admin.default", "default", "Standard"),
    ("admin.review", "Review changes", "Änderungen prüfen"),
    (
        "admin.pending",
        "Changes to save",
        "Zu speichernde Änderungen",
    ),
    (
        "admin.apply",
        "Save these changes",
        "Diese Änderungen speichern",
    ),
    ("admin.cancel", "Cancel", "Abbrechen"),
    (
        "admin.impact_none",
        "Affects no profile on this plan now.",
        "Betrifft jetzt kein Konto mit diesem Tarif.",
    ),
    (
        "admin.impact_one",
        "Affects 1 profile on this plan now.",
        "Betrifft 1 Konto, das jetzt diesen Tarif hat.",
    ),
    (
        "admin.impact_many",
        "Affects {0} profiles on this plan now.",
        "Betrifft {0} Konten, die jetzt diesen Tarif haben.",
    ),
    (
        "admin.impact_keep_one",
        "1 of them keeps a personal limit that still wins.",
        "1 davon behält eine persönliche Grenze, die weiter gilt.",
    ),
    (
        "admin.impact_keep_many",
        "{0} of them keep a personal limit that still wins.",
        "{0} davon behalten eine persönliche Grenze, die weiter gilt.",
    ),
    ("admin.no_changes", "Nothing changed.", "Nichts geändert."),
    ("admin.unlimited", "unlimited", "unbegrenzt"),
    ("admin.off", "off", "aus"),
    ("admin.default_value", "default ({0})", "Standard ({0})"),
    ("admin.id", "Id", "Kennung"),
    (
        "admin.id_slug",
        "Id (lowercase letters, digits, _)",
        "Kennung (Kleinbuchstaben, Ziffern, _)",
    ),
    ("admin.name", "Name", "Name"),
    ("admin.description", "Description", "Beschreibung"),
    ("admin.category", "Category", "Kategorie"),
    ("admin.unit", "Unit", "Einheit"),
    ("admin.kind", "Kind", "Art"),
    ("admin.reset_period", "Resets", "Zurückgesetzt"),
    ("admin.default_limit", "Default limit", "Standardgrenze"),
    (
        "admin.default_limit_hint",
        "Default limit (empty = unlimited)",
        "Standardgrenze (leer = unbegrenzt)",
    ),
    ("admin.sort_order", "Order", "Reihenfolge"),
    (
        "admin.kill_switch",
        "Switching a feature off turns it off for everyone, whatever their plan or personal limit.",
        "Eine abgeschaltete Funktion ist für alle aus, egal welcher Tarif oder welche persönliche Grenze.",
    ),
    ("admin.new_feature", "Add a feature", "Funktion hinzufügen"),
    ("admin.edit_feature", "Edit {0}", "{0} bearbeiten"),
    ("admin.yes", "yes", "ja"),
    ("admin.no", "no", "nein"),
    ("admin.rank", "Rank", "Rang"),
    ("admin.new_tier", "Add a plan", "Tarif hinzufügen"),
    ("admin.edit_tier", "Edit {0}", "{0} bearbeiten"),
    (
        "admin.coupon_created",
        "Coupon created:",
        "Gutschein angelegt:",
    ),
    (
        "admin.batch_created",
        "{0} codes created.",
        "{0} Codes angelegt.",
    ),
    (
        "admin.download_csv",
        "Download them as CSV",
        "Als CSV herunterladen",
    ),
    ("admin.any", "any", "alle"),
    ("admin.filter", "Filter", "Filtern"),
    ("admin.redeemed", "Redeemed", "Eingelöst"),
    ("admin.more", "More", "Mehr"),
    ("admin.new_coupon", "Create a coupon", "Gutschein anlegen"),
    (
        "admin.code_blank",
        "Code (blank: generated)",
        "Code (leer: erzeugt)",
    ),
    (
        "admin.duration_days",
        "Days (single use)",
        "Tage (Einmalcode)",
    ),
    ("admin.valid_from", "Redeemable from", "Einlösbar ab"),
    ("admin.valid_until", "Redeemable until", "Einlösbar bis"),
    (
        "admin.period_ends_at",
        "Access until (period)",
        "Zugang bis (Zeitraum)",
    ),
    (
        "admin.max_redemptions",
        "Most redemptions",
        "Höchstens Einlösungen",
    ),
    ("admin.create_coupon", "Create coupon", "Gutschein anlegen"),
    (
        "admin.batch",
        "Generate single-use codes",
        "Einmalcodes erzeugen",
    ),
    ("admin.count", "How many", "Wie viele"),
    ("admin.generate", "Generate", "Erzeugen"),
    ("admin.coupon", "Coupon", "Gutschein"),
    ("admin.edit", "Change", "Ändern"),
    ("admin.user", "Profile", "Konto"),
    ("admin.when", "When", "Wann"),
    ("admin.period_key", "Month", "Monat"),
    (
        "admin.search",
        "Search by e-mail or name",
        "Nach E-Mail oder Name suchen",
    ),
    ("admin.search_button", "Search", "Suchen"),
    ("admin.effective_tier", "Plan now", "Tarif jetzt"),
    ("admin.role", "Role", "Rolle"),
    ("admin.status", "Status", "Status"),
    ("admin.enabled", "enabled", "aktiv"),
    ("admin.disabled", "disabled", "gesperrt"),
    ("admin.profile", "Profile", "Konto"),
    ("admin.effective_now", "Plan now: {0}", "Tarif jetzt: {0}"),
    ("admin.base_tier", "Base plan", "Grundtarif"),
    ("admin.trial_ends_at", "Trial until", "Testphase bis"),
    ("admin.grants", "Grants", "Freischaltungen"),
    ("admin.pause", "Pause", "Pausieren"),
    (
        "admin.pause_reason",
        "Reason for the pause",
        "Grund der Pause",
    ),
    ("admin.resume", "Resume", "Fortsetzen"),
    ("admin.revoke", "Revoke", "Widerrufen"),
    ("admin.add_grant", "Add a grant", "Freischaltung hinzufügen"),
    ("admin.days", "Days", "Tage"),
    ("admin.starts_at", "From", "Von"),
    ("admin.ends_at", "Until", "Bis"),
    (
        "admin.grant_hint",
        "Either a number of days of access time, or a window from a day to a day.",
        "Entweder eine Zahl von Tagen Zugangszeit oder ein Zeitraum von einem Tag bis zu einem Tag.",
    ),
    ("admin.why_limits", "Limits and why", "Grenzen und warum"),
    ("admin.why", "Why", "Warum"),
    (
        "admin.personal_limit",
        "Personal limit",
        "Persönliche Grenze",
    ),
    ("admin.reason", "Reason", "Grund"),
    ("admin.set", "Set", "Setzen"),
    ("admin.clear", "Clear", "Entfernen"),
    (
        "admin.why_inactive",
        "switched off for everyone",
        "für alle abgeschaltet",
    ),
    (
        "admin.why_personal",
        "personal limit: {0}",
        "persönliche Grenze: {0}",
    ),
    (
        "admin.why_personal_until",
        "personal limit until {1}: {0}",
        "persönliche Grenze bis {1}: {0}",
    ),
    (
        "admin.why_tier_base",
        "plan {0} (the base plan)",
        "Tarif {0} (Grundtarif)",
    ),
    (
        "admin.why_tier_trial",
        "plan {0} (trial)",
        "Tarif {0} (Testphase)",
    ),
    (
        "admin.why_tier_grant",
        "plan {0} (grant {1})",
        "Tarif {0} (Freischaltung {1})",
    ),
    (
        "admin.why_default",
        "the feature's default",
        "die Standardgrenze der Funktion",
    ),
    ("admin.stats", "Figures", "Zahlen"),
    (
        "admin.recent_activity",
        "Recent activity",
        "Letzte Aktivität",
    ),
    (
        "admin.all_activity",
        "All activity of this profile",
        "Alle Aktivität dieses Kontos",
    ),
    ("admin.stat_logins", "Sign-ins", "Anmeldungen"),
    ("admin.stat_last_login", "Last sign-in", "Letzte Anmeldung"),
    ("admin.stat_last_active", "Last active", "Zuletzt aktiv"),
    (
        "admin.stat_redemptions",
        "Coupons redeemed",
        "Eingelöste Gutscheine",
    ),
    ("admin.stat_created", "Created", "Angelegt"),
    ("admin.action", "Action", "Aktion"),
    ("admin.profile_id", "Profile id", "Konto-Kennung"),
    ("admin.since", "Since", "Seit"),
    ("admin.actor", "By", "Von"),
    ("admin.details", "Details", "Details"),
    ("admin.older", "Older", "Ältere"),
    (
        "admin.last_day",
        "Last day (optional)",
        "Letzter Tag (freiwillig)",
    ),
    (
        "admin.trials_this_week",
        "Trials ending within 7 days",
        "Testzeiten, die in 7 Tagen enden",
    ),
    (
        "admin.no_trials_ending",
        "No trial ends this week.",
        "Diese Woche endet keine Testzeit.",
    ),
    ("admin.all_trials_ending", "All of them", "Alle davon"),
    (
        "admin.campaigns",
        "Batches and campaigns",
        "Stapel und Kampagnen",
    ),
    ("admin.redemption_rate", "Redemption rate", "Einlösequote"),
    ("admin.actions", "Actions", "Aktionen"),
    ("admin.deactivate_all", "Switch all off", "Alle ausschalten"),
    ("admin.activate_all", "Switch all on", "Alle einschalten"),
    (
        "admin.kind_help",
        "Single use: one person, a number of days. Period: many people until a fixed end. Wellpass: many people, a calendar month at a time. The form shows the fields of the kind chosen.",
        "Einmalig: eine Person, eine Zahl von Tagen. Zeitraum: viele Personen bis zu einem festen Ende. Wellpass: viele Personen, je einen Kalendermonat. Das Formular zeigt die Felder der gewählten Art.",
    ),
    (
        "done.mail_resent",
        "The message is queued again.",
        "Die Nachricht wird erneut verschickt.",
    ),
    ("admin.message", "Message", "Nachricht"),
    ("admin.queued_at", "Queued", "Eingereiht"),
    ("admin.resend", "Send again", "Erneut senden"),
    ("admin.mail_sent_at", "sent {0}", "gesendet {0}"),
    ("admin.mail_next_at", "next try {0}", "nächster Versuch {0}"),
    ("mail_status.pending", "waiting", "wartet"),
    ("mail_status.sending", "sending", "wird gesendet"),
    ("mail_status.sent", "sent", "gesendet"),
    ("mail_status.failed", "given up", "aufgegeben"),
    (
        "mail_template.verify_email",
        "Confirm e-mail",
        "E-Mail bestätigen",
    ),
    ("mail_template.invitation", "Invitation", "Einladung"),
    (
        "mail_template.payment_received",
        "Payment received",
        "Zahlung erhalten",
    ),
    (
        "mail_template.payment_failed",
        "Payment failed",
        "Zahlung fehlgeschlagen",
    ),
    (
        "mail_template.subscription_ending",
        "Subscription ending",
        "Abo endet",
    ),
    (
        "mail_template.notification_digest",
        "Notifications digest",
        "Zusammenfassung der Benachrichtigungen",
    ),
    (
        "mail_template.notification",
        "Admin notification",
        "Admin-Benachrichtigung",
    ),
    (
        "mail_template.password_reset",
        "Password reset",
        "Passwort zurücksetzen",
    ),
    (
        "mail_template.trial_ending",
        "Trial ending",
        "Testzeit endet",
    ),
    (
        "mail_template.grant_expiring",
        "Access ending",
        "Zugang endet",
    ),
    (
        "mail_template.coupon_redeemed",
        "Coupon redeemed",
        "Gutschein eingelöst",
    ),
    (
        "mail_template.weigh_in_reminder",
        "Weigh-in reminder",
        "Wiege-Erinnerung",
    ),
    (
        "event.mail_resent",
        "Message sent again",
        "Nachricht erneut gesendet",
    ),
    (
        "event.price_created",
        "Price put on sale",
        "Preis zum Verkauf gestellt",
    ),
    ("event.price_updated", "Price changed", "Preis geändert"),
    ("detail.mail_id", "Message", "Nachricht"),
    ("admin.sort", "Order", "Reihenfolge"),
    ("admin.sort_oldest", "Oldest first", "Älteste zuerst"),
    ("admin.sort_newest", "Newest first", "Neueste zuerst"),
    ("admin.sort_email", "E-mail A–Z", "E-Mail A–Z"),
    (
        "admin.trial_ending",
        "Trial ends within 7 days",
        "Testzeit endet in 7 Tagen",
    ),
    (
        "admin.at_limit",
        "Hit a limit in the last 7 days",
        "In den letzten 7 Tagen an einer Grenze",
    ),
    (
        "admin.users_csv",
        "Download this list (CSV)",
        "Diese Liste herunterladen (CSV)",
    ),
    ("admin.trial_ends", "Trial ends", "Testzeit endet"),
    ("admin.no_users", "No profile matches.", "Kein Konto passt."),
    ("admin.on_off", "on or off", "an oder aus"),
    ("admin.per_never", "in total", "insgesamt"),
    ("admin.per_daily", "per day", "pro Tag"),
    ("admin.per_weekly", "per week", "pro Woche"),
    ("admin.per_monthly", "per month", "pro Monat"),
    ("admin.per_yearly", "per year", "pro Jahr"),
    (
        "setting_help.usage_timezone",
        "Usage resets at midnight in this zone. A change keeps everyone's usage: the period running now keeps its count and ends at the next midnight of the new zone (up to a day sooner or later); later periods follow the new zone.",
        "Die Nutzung beginnt um Mitternacht in dieser Zone neu. Eine Änderung behält die Nutzung aller: der laufende Zeitraum behält seinen Stand und endet zur nächsten Mitternacht der neuen Zone (bis zu einen Tag früher oder später); spätere Zeiträume folgen der neuen Zone.",
    ),
    (
        "setting_help.registration_mode",
        "Who may create an account: anyone, only people with an invitation, or nobody. Existing accounts are not affected.",
        "Wer ein Konto anlegen darf: alle, nur Eingeladene oder niemand. Bestehende Konten sind nicht betroffen.",
    ),
    (
        "setting_help.default_tier",
        "The base plan of new accounts. Accounts made earlier keep their plan.",
        "Der Grundtarif neuer Konten. Früher angelegte Konten behalten ihren Tarif.",
    ),
    (
        "setting_help.trial_days",
        "Days of the trial plan for new accounts; 0 means no trial. Running trials keep their end.",
        "Tage des Testtarifs für neue Konten; 0 heißt kein Test. Laufende Tests behalten ihr Ende.",
    ),
    (
        "setting_help.trial_tier",
        "The plan a new account tries first. Running trials change to it at once.",
        "Der Tarif, den ein neues Konto zuerst testet. Laufende Tests wechseln sofort.",
    ),
    (
        "setting_help.require_email_verification",
        "When on, people confirm their e-mail before they can use the app.",
        "Wenn an, bestätigen Leute ihre E-Mail, bevor sie die App nutzen.",
    ),
    (
        "setting_help.users_can_invite",
        "When on, every person may invite others by e-mail.",
        "Wenn an, darf jede Person andere per E-Mail einladen.",
    ),
    (
        "setting_help.wellpass_grace_days",
        "Days a Wellpass code keeps giving access after its period ends.",
        "Tage, die ein Wellpass-Code nach Ende seines Zeitraums noch Zugang gibt.",
    ),
    (
        "setting_help.billing_grace_days",
        "Days a subscription keeps giving access after its latest paid period, while Stripe retries a failed renewal.",
        "Tage, die ein Abo nach seinem zuletzt bezahlten Zeitraum noch Zugang gibt, während Stripe eine fehlgeschlagene Verlängerung erneut versucht.",
    ),
    (
        "setting_help.activity_retention_days",
        "Days each use of a feature stays in the activity log; older ones are folded into daily counts, so statistics stay the same and the database stays a bounded size.",
        "Tage, die jede Nutzung einer Funktion im Aktivitätsprotokoll bleibt; ältere werden zu Tageszahlen zusammengefasst, die Statistik bleibt gleich und die Datenbank begrenzt groß.",
    ),
    (
        "setting_help.notification_digest_hour",
        "The hour (0–23, in the time zone of periods) the admins' daily digest of notifications goes out.",
        "Die Stunde (0–23, in der Zeitzone der Zeiträume), zu der die tägliche Zusammenfassung der Benachrichtigungen an die Admins geht.",
    ),
    (
        "setting_help.reminder_lead_days",
        "Days before access ends that the reminder mail goes out.",
        "Tage vor Ende des Zugangs, an denen die Erinnerung verschickt wird.",
    ),
    (
        "setting_help.photo_max_bytes",
        "The largest photo accepted, in bytes. Photos already kept are not affected.",
        "Das größte angenommene Foto in Byte. Gespeicherte Fotos sind nicht betroffen.",
    ),
    (
        "setting_help.base_url",
        "The public address used in links in e-mails; empty uses the server's own.",
        "Die öffentliche Adresse für Links in E-Mails; leer nimmt die des Servers.",
    ),
    (
        "setting_help.mail_from",
        "The sender of every e-mail.",
        "Der Absender jeder E-Mail.",
    ),
    ("value.open", "anyone", "alle"),
    ("value.invite_only", "by invitation", "nur mit Einladung"),
    ("value.closed", "nobody", "niemand"),
    (
        "admin.notifications_none",
        "Notifications: none unread",
        "Benachrichtigungen: keine ungelesen",
    ),
    ("admin.choose_tier", "Choose a plan", "Tarif wählen"),
    (
        "admin.limit_choose",
        "Enter a number, or choose unlimited or off.",
        "Gib eine Zahl ein oder wähle unbegrenzt oder aus.",
    ),
    (
        "admin.reason_required",
        "Say why (the reason is kept with the limit).",
        "Gib einen Grund an (er wird mit der Grenze gespeichert).",
    ),
    (
        "admin.confirm_unlimited",
        "This gives unlimited {0}, more than the plan does. Confirm to save it.",
        "Das gibt unbegrenzt {0}, mehr als der Tarif. Bestätige zum Speichern.",
    ),
    (
        "admin.confirm_more",
        "This gives {1} {0}, more than the plan's {2}. Confirm to save it.",
        "Das gibt {1} {0}, mehr als die {2} des Tarifs. Bestätige zum Speichern.",
    ),
    ("admin.confirm", "Confirm", "Bestätigen"),
    ("admin.limit_number", "A number", "Eine Zahl"),
    (
        "admin.set_personal",
        "Set a personal limit",
        "Persönliche Grenze setzen",
    ),
    ("admin.change_personal", "Change", "Ändern"),
    ("admin.on", "on", "an"),
    ("admin.all_actions", "All actions", "Alle Aktionen"),
    (
        "admin.profile_or_email",
        "Profile (e-mail or id)",
        "Konto (E-Mail oder Kennung)",
    ),
    ("admin.new", "new", "neu"),
    ("admin.removed", "removed", "entfernt"),
    ("event.register", "Registered", "Registriert"),
    ("event.login", "Signed in", "Angemeldet"),
    (
        "event.login_failed",
        "Sign-in failed",
        "Anmeldung fehlgeschlagen",
    ),
    ("event.logout", "Signed out", "Abgemeldet"),
    (
        "event.email_verified",
        "E-mail confirmed",
        "E-Mail bestätigt",
    ),
    (
        "event.password_changed",
        "Password changed",
        "Passwort geändert",
    ),
    (
        "event.password_reset_requested",
        "Password reset asked for",
        "Passwort-Zurücksetzung angefordert",
    ),
    (
        "event.invitation_created",
        "Invitation sent",
        "Einladung verschickt",
    ),
    (
        "event.account_disabled",
        "Account disabled",
        "Konto gesperrt",
    ),
    (
        "event.account_enabled",
        "Account enabled",
        "Konto entsperrt",
    ),
    ("event.account_deleted", "Account deleted", "Konto gelöscht"),
    ("event.feature_used", "Feature used", "Funktion genutzt"),
    ("event.limit_reached", "Limit reached", "Grenze erreicht"),
    (
        "event.coupon_redeemed",
        "Coupon redeemed",
        "Gutschein eingelöst",
    ),
    (
        "event.coupon_failed",
        "Coupon refused",
        "Gutschein abgelehnt",
    ),
    ("event.tier_changed", "Plan changed", "Tarif geändert"),
    ("event.role_changed", "Role changed", "Rolle geändert"),
    ("event.trial_changed", "Trial changed", "Testzeit geändert"),
    (
        "event.restriction_set",
        "Personal limit set",
        "Persönliche Grenze gesetzt",
    ),
    (
        "event.restriction_cleared",
        "Personal limit removed",
        "Persönliche Grenze entfernt",
    ),
    (
        "event.setting_changed",
        "Setting changed",
        "Einstellung geändert",
    ),
    ("event.grant_created", "Access given", "Zugang vergeben"),
    ("event.grant_paused", "Access paused", "Zugang pausiert"),
    (
        "event.grant_resumed",
        "Access resumed",
        "Zugang fortgesetzt",
    ),
    ("event.grant_expired", "Access ended", "Zugang abgelaufen"),
    ("event.grant_revoked", "Access revoked", "Zugang entzogen"),
    (
        "event.export_downloaded",
        "Export downloaded",
        "Export heruntergeladen",
    ),
    (
        "event.feature_created",
        "Feature added",
        "Funktion angelegt",
    ),
    (
        "event.feature_updated",
        "Feature changed",
        "Funktion geändert",
    ),
    ("event.tier_created", "Plan added", "Tarif angelegt"),
    ("event.tier_updated", "Plan edited", "Tarif bearbeitet"),
    (
        "event.tier_limit_changed",
        "Plan limit changed",
        "Tarifgrenze geändert",
    ),
    (
        "event.coupon_created",
        "Coupon created",
        "Gutschein angelegt",
    ),
    (
        "event.coupon_updated",
        "Coupon changed",
        "Gutschein geändert",
    ),
    (
        "event.coupons_generated",
        "Coupons generated",
        "Gutscheine erzeugt",
    ),
    ("detail.feature", "Feature", "Funktion"),
    ("detail.tier", "Plan", "Tarif"),
    ("detail.limit", "Limit", "Grenze"),
    ("detail.reason", "Reason", "Grund"),
    ("detail.valid_until", "Valid until", "Gültig bis"),
    ("detail.valid_from", "Valid from", "Gültig ab"),
    ("detail.key", "Setting", "Einstellung"),
    ("detail.value", "Value", "Wert"),
    ("detail.grant_id", "Access", "Zugang"),
    ("detail.coupon_id", "Coupon", "Gutschein"),
    ("detail.code", "Code", "Code"),
    ("detail.campaign", "Campaign", "Kampagne"),
    ("detail.count", "Count", "Anzahl"),
    ("detail.kind", "Kind", "Art"),
    ("detail.status", "Status", "Status"),
    ("detail.starts_at", "Starts", "Beginn"),
    ("detail.ends_at", "Ends", "Ende"),
    ("detail.pause_reason", "Pause reason", "Pausengrund"),
    ("detail.role", "Role", "Rolle"),
    ("detail.disabled", "Disabled", "Gesperrt"),
    ("detail.trial_ends_at", "Trial ends", "Testzeit endet"),
    ("detail.name", "Name", "Name"),
    ("detail.description", "Description", "Beschreibung"),
    ("detail.category", "Category", "Kategorie"),
    ("detail.unit", "Unit", "Einheit"),
    ("detail.reset_period", "Resets", "Zurückgesetzt"),
    ("detail.default_limit", "Default limit", "Standardgrenze"),
    ("detail.active", "Active", "Aktiv"),
    ("detail.sort_order", "Order", "Reihenfolge"),
    ("detail.rank", "Rank", "Rang"),
    ("detail.duration_days", "Days", "Tage"),
    ("detail.period_ends_at", "Period ends", "Zeitraum endet"),
    (
        "detail.max_redemptions",
        "Most redemptions",
        "Höchstens einlösbar",
    ),
    ("detail.note", "Note", "Notiz"),
    ("detail.amount", "Amount", "Menge"),
    ("detail.via", "Via", "Über"),
    ("detail.email", "E-mail", "E-Mail"),
    ("value.single_use", "single use", "einmalig"),
    ("value.period", "period", "Zeitraum"),
    ("value.wellpass", "Wellpass", "Wellpass"),
    ("value.duration", "duration", "Dauer"),
    ("value.fixed", "fixed window", "festes Fenster"),
    ("value.running", "running", "läuft"),
    (
        "value.paused_admin",
        "paused by an admin",
        "von Admin pausiert",
    ),
    (
        "value.paused_stacking",
        "waiting behind a better plan",
        "wartet hinter besserem Tarif",
    ),
    ("value.waiting", "waiting", "wartet"),
    ("value.expired", "ended", "abgelaufen"),
    ("value.revoked", "revoked", "entzogen"),
    ("value.admin", "admin", "Admin"),
    ("value.user", "user", "Nutzer"),
    ("value.daily", "daily", "täglich"),
    ("value.weekly", "weekly", "wöchentlich"),
    ("value.monthly", "monthly", "monatlich"),
    ("value.yearly", "yearly", "jährlich"),
    ("value.never", "never", "nie"),
    ("value.count", "count", "Anzahl"),
    ("value.boolean", "on/off", "an/aus"),
    (
        "admin.settings_intro",
        "Each setting is checked before it is saved; a value that does not fit keeps the old one.",
        "Jede Einstellung wird vor dem Speichern geprüft; ein unpassender Wert lässt den alten stehen.",
    ),
    ("admin.recipient", "To", "An"),
    ("admin.template", "Message", "Nachricht"),
    ("admin.attempts", "Attempts", "Versuche"),
    ("admin.next_attempt", "Next attempt", "Nächster Versuch"),
    ("admin.last_error", "Last error", "Letzter Fehler"),
    ("admin.all", "All", "Alle"),
    ("admin.mail_sent", "Sent", "Gesendet"),
    (
        "admin.saved_grant",
        "Grant added.",
        "Freischaltung hinzugefügt.",
    ),
    (
        "done.grant_changed",
        "The grant is changed.",
        "Die Freischaltung ist geändert.",
    ),
    (
        "done.restriction_set",
        "The personal limit is set.",
        "Die persönliche Grenze ist gesetzt.",
    ),
    (
        "done.restriction_cleared",
        "The personal limit is cleared.",
        "Die persönliche Grenze ist entfernt.",
    ),
    (
        "done.coupon_saved",
        "The coupon is saved.",
        "Der Gutschein ist gespeichert.",
    ),
    (
        "setting.registration_mode",
        "Who may create an account",
        "Wer ein Konto anlegen darf",
    ),
    (
        "setting.require_email_verification",
        "E-mail must be confirmed first",
        "E-Mail muss zuerst bestätigt sein",
    ),
    (
        "setting.default_tier",
        "Plan of new accounts",
        "Tarif neuer Konten",
    ),
    ("setting.trial_days", "Trial days", "Tage der Testphase"),
    (
        "setting.trial_tier",
        "Plan during the trial",
        "Tarif in der Testphase",
    ),
    (
        "setting.usage_timezone",
        "Time zone of periods",
        "Zeitzone der Zeiträume",
    ),
    (
        "setting.wellpass_grace_days",
        "Wellpass grace days",
        "Wellpass-Kulanztage",
    ),
    (
        "setting.activity_retention_days",
        "Days feature uses are kept",
        "Tage, die Nutzungen aufbewahrt werden",
    ),
    (
        "setting.notification_digest_hour",
        "Hour of the notifications digest",
        "Stunde der Benachrichtigungs-Zusammenfassung",
    ),
    (
        "setting.billing_grace_days",
        "Payment grace days",
        "Kulanztage bei Zahlungen",
    ),
    (
        "setting.users_can_invite",
        "Users may invite",
        "Alle dürfen einladen",
    ),
    (
        "setting.mail_from",
        "Sender of e-mails",
        "Absender der E-Mails",
    ),
    (
        "setting.base_url",
        "Public URL for links",
        "Öffentliche Adresse für Links",
    ),
    (
        "setting.photo_max_bytes",
        "Largest photo (bytes)",
        "Größtes Foto (Bytes)",
    ),
    (
        "setting.reminder_lead_days",
        "Reminders, days ahead",
        "Erinnerungen, Tage vorher",
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys() -> BTreeSet<&'static str> {
        MESSAGES.iter().map(|(k, _, _)| *k).collect()
    }

    /// Each message once, in both languages (a row has both: neither can be forgotten), and
    /// no text empty.
    #[test]
    fn every_message_once_with_both_texts() {
        assert_eq!(keys().len(), MESSAGES.len(), "a key twice");
        for (key, en, de) in MESSAGES {
            assert!(!en.trim().is_empty(), "{key} is empty in English");
            assert!(!de.trim().is_empty(), "{key} is empty in German");
        }
    }

    /// Every literal key the pages look up exists, found by reading the UI's sources and
    /// templates: a key typed wrong fails here, not on a page.
    #[test]
    fn every_key_the_pages_use_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        let mut dirs = vec![root.join("src/ui"), root.join("templates/ui")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    sources.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        assert!(sources.len() > 30, "the sources were not found");
        let en = keys();
        let mut missing = BTreeSet::new();
        for source in &sources {
            for call in ["t(\"", "tf(\"", "try_t(\""] {
                for part in source.split(call).skip(1) {
                    let key: String = part.chars().take_while(|c| *c != '"').collect();
                    let looks_like_key = key.contains('.')
                        && key.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_'
                        });
                    if looks_like_key && !en.contains(key.as_str()) {
                        missing.insert(key);
                    }
                }
            }
        }
        for (_, key) in DONE {
            if !en.contains(key) {
                missing.insert((*key).to_owned());
            }
        }
        assert!(missing.is_empty(), "keys without a message: {missing:?}");
    }

    #[test]
    fn seeded_names_and_dynamic_keys_exist() {
        let en = keys();
        for prefix_keys in [&[
            "weight",
            "circumference",
            "caliper",
            "nutrition",
            "activity",
            "photos",
            "ai_calls",
            "ai_pipeline",
            "export_csv",
            "export_json",
            "export_zip",
        ][..]]
        {
            for id in prefix_keys {
                assert!(en.contains(format!("feature.{id}").as_str()), "{id}");
            }
        }
        for id in ["free", "basic", "premium", "selfhosted"] {
            assert!(en.contains(format!("tier.{id}").as_str()));
        }
        for p in ["never", "daily", "weekly", "monthly", "yearly"] {
            assert!(en.contains(format!("period.{p}").as_str()));
        }
        for s in [
            "feature_inactive",
            "user_restriction",
            "tier_limit",
            "feature_default",
        ] {
            assert!(en.contains(format!("source.{s}").as_str()));
        }
        for (name, _) in crate::service::ai::PIPELINE_STEPS {
            assert!(en.contains(format!("insights.step.{name}").as_str()));
        }
        for site in mitai_access::caliper::sites(
            mitai_access::caliper::Method::Jp7,
            mitai_access::caliper::Sex::Male,
        )
        .iter()
        .chain(mitai_access::caliper::sites(
            mitai_access::caliper::Method::Jp3,
            mitai_access::caliper::Sex::Female,
        )) {
            assert!(
                en.contains(format!("site.{}", site.as_str()).as_str()),
                "{site:?}"
            );
        }
    }
}
