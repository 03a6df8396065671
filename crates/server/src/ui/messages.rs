//! The message tables of the UI, one per language, looked up by key. A test proves both
//! tables have the same keys and that every key the pages use exists.

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
    ("entry_added", "done.entry_added"),
    ("entry_deleted", "done.entry_deleted"),
    ("imported", "done.imported"),
    ("photo_added", "done.photo_added"),
    ("photo_deleted", "done.photo_deleted"),
    ("verification_sent", "done.verification_sent"),
];

/// The message key of a `?done=` code.
pub fn done_message(code: &str) -> Option<&'static str> {
    DONE.iter().find(|(c, _)| *c == code).map(|(_, key)| *key)
}

pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    static EN_MAP: LazyLock<HashMap<&str, &str>> = LazyLock::new(|| EN.iter().copied().collect());
    static DE_MAP: LazyLock<HashMap<&str, &str>> = LazyLock::new(|| DE.iter().copied().collect());
    match lang {
        Lang::En => EN_MAP.get(key).copied(),
        Lang::De => DE_MAP.get(key).copied(),
    }
}

pub const EN: &[(&str, &str)] = &[
    // layout and navigation
    ("layout.skip", "Skip to the content"),
    ("layout.api", "API"),
    ("nav.label", "Main"),
    ("nav.dashboard", "Overview"),
    ("nav.weight", "Weight"),
    ("nav.measurements", "Measurements"),
    ("nav.body_fat", "Body fat"),
    ("nav.nutrition", "Nutrition"),
    ("nav.activity", "Activity"),
    ("nav.photos", "Photos"),
    ("nav.insights", "Insights"),
    ("nav.plan", "My plan"),
    ("nav.account", "Account"),
    ("nav.admin", "Admin"),
    ("nav.sign_out", "Sign out"),
    // errors
    ("error.not_found", "Page not found"),
    ("error.not_found_text", "There is nothing at this address."),
    ("error.forbidden", "Not allowed"),
    (
        "error.forbidden_text",
        "You may not open this page, or the form was not sent from Mitai. Please try again from the page itself.",
    ),
    ("error.rate_limited", "Too many attempts"),
    (
        "error.rate_limited_text",
        "Too many attempts. Please wait a few minutes and try again.",
    ),
    ("error.bad_request", "That did not work"),
    (
        "error.bad_request_text",
        "The request could not be read. Please go back and try again.",
    ),
    ("error.internal", "Something went wrong"),
    (
        "error.internal_text",
        "Something went wrong on our side. Nothing you entered was lost; please try again in a moment.",
    ),
    ("error.home", "To the overview"),
    // fields
    ("f.email", "E-mail address"),
    ("f.password", "Password"),
    ("f.new_password", "New password (8–128 characters)"),
    ("f.current_password", "Current password"),
    ("f.name", "Name"),
    ("f.name_optional", "Name (optional)"),
    ("f.language", "Language"),
    ("f.date", "Date"),
    ("f.note", "Note"),
    ("f.weight_kg", "Weight"),
    ("f.age", "Age"),
    ("f.kcal", "Energy"),
    ("f.kcal_optional", "Energy (optional)"),
    ("f.protein_g", "Protein"),
    ("f.carbs_g", "Carbohydrates"),
    ("f.fat_g", "Fat"),
    ("f.kind", "Kind of activity"),
    ("f.minutes", "Minutes"),
    ("f.code", "Coupon code"),
    ("field.range", "Allowed are values from {0} to {1}."),
    ("field.date", "Please enter a date."),
    ("field.email", "Please enter an e-mail address."),
    ("field.password", "The password needs 8 to 128 characters."),
    ("field.too_long", "This is too long."),
    ("field.too_long_n", "At most {0} characters."),
    ("field.future", "This date is in the future."),
    ("field.invalid", "This value is not valid."),
    ("field.required", "Please fill this in."),
    ("field.number", "Please enter a number, such as 72.5."),
    ("field.whole_number", "Please enter a whole number."),
    // actions and confirmations
    ("action.save", "Save"),
    ("action.add", "Add"),
    ("action.delete", "Delete"),
    ("action.import", "Import"),
    ("action.compare", "Compare"),
    ("action.redeem", "Redeem"),
    ("done.saved", "Saved."),
    (
        "done.password_changed",
        "Your password is changed. Your other sessions were signed out.",
    ),
    ("done.invited", "The invitation is on its way."),
    ("done.signed_out", "You are signed out."),
    (
        "done.signed_out_everywhere",
        "You are signed out on every device.",
    ),
    ("done.entry_added", "Entry added."),
    ("done.entry_deleted", "Entry deleted."),
    ("done.imported", "The file was imported."),
    ("done.photo_added", "Photo added."),
    ("done.photo_deleted", "Photo deleted."),
    (
        "done.verification_sent",
        "We sent you a new confirmation link.",
    ),
    // refusals of the feature gate
    (
        "refusal.limit",
        "{0}: you have used all {1} for this period. It resets on {2}.",
    ),
    (
        "refusal.limit_never",
        "{0}: you have used all {1}; this limit does not reset.",
    ),
    (
        "refusal.disabled",
        "{0} is not part of your plan right now.",
    ),
    (
        "refusal.unverified",
        "Please confirm your e-mail address first — we sent you a link. Nothing was saved.",
    ),
    ("refusal.forbidden", "You are not allowed to do this."),
    (
        "refusal.rate_limited",
        "Too many attempts. Please try again in {0} minutes.",
    ),
    ("refusal.plan_link", "See my plan"),
    // sign in, registration, passwords, links
    ("login.title", "Sign in"),
    ("login.submit", "Sign in"),
    ("login.register", "Create an account"),
    ("login.forgot", "Forgot your password?"),
    ("login.wrong", "Wrong e-mail address or password."),
    ("login.disabled", "This account is disabled."),
    (
        "login.rate_limited",
        "Too many attempts. Please try again in {0} minutes.",
    ),
    ("register.title", "Create your account"),
    ("register.submit", "Create account"),
    ("register.have_account", "I already have an account"),
    (
        "register.invited",
        "You were invited: your account is ready as soon as you create it.",
    ),
    ("register.closed", "Registration is closed on this server."),
    (
        "register.invite_only",
        "This server takes new accounts only by invitation. Ask for an invitation link.",
    ),
    (
        "register.bad_invitation",
        "This invitation link is not valid (any more).",
    ),
    (
        "register.ready",
        "Your account is ready. You can sign in now.",
    ),
    (
        "register.check_mail",
        "Almost done: we sent a confirmation link to {0}. Please open it to confirm your address.",
    ),
    (
        "register.taken",
        "An account with this e-mail address exists already.",
    ),
    ("forgot.title", "Forgot your password?"),
    (
        "forgot.intro",
        "Enter your e-mail address and we will send you a link to choose a new password.",
    ),
    ("forgot.submit", "Send the link"),
    (
        "forgot.sent",
        "If an account has this address, a link to reset the password is on its way. It works for one hour.",
    ),
    ("verify.title", "Confirm your e-mail address"),
    (
        "verify.intro",
        "Press the button to confirm that this address is yours.",
    ),
    ("verify.submit", "Confirm my address"),
    (
        "verify.done",
        "Thank you! Your e-mail address is confirmed.",
    ),
    (
        "verify.invalid",
        "This link is not valid or has expired. You can ask for a new one on your account page.",
    ),
    ("reset.title", "Choose a new password"),
    ("reset.submit", "Set password"),
    (
        "reset.done",
        "Your new password is set and every session was signed out. Please sign in.",
    ),
    (
        "reset.invalid",
        "This link is not valid or has expired. Please ask for a new one.",
    ),
    // account
    ("account.title", "Account"),
    ("account.profile", "Profile"),
    ("account.unverified", "not confirmed yet"),
    ("account.resend", "Send the confirmation link again"),
    ("account.password", "Password"),
    ("account.change_password", "Change password"),
    (
        "account.wrong_password",
        "This is not your current password.",
    ),
    ("account.exports", "Your data"),
    (
        "account.exports_intro",
        "Download everything you entered. Each download counts towards its limit in your plan.",
    ),
    ("account.download", "Download {0}"),
    ("account.invite", "Invite someone"),
    ("account.send_invitation", "Send invitation"),
    ("account.sessions", "Sessions"),
    (
        "account.sessions_intro",
        "Signed in on a device you no longer use? Sign out everywhere, this device included.",
    ),
    ("account.sign_out_everywhere", "Sign out everywhere"),
    // dashboard
    ("dashboard.hello", "Hello, {0}"),
    ("dashboard.trial_left", "Your {1} trial ends in {0} days."),
    ("dashboard.see_plan", "What my plan includes"),
    ("dashboard.quick_weight", "Today's weight"),
    ("dashboard.trend", "{0} kg in 90 days"),
    ("dashboard.usage", "This period"),
    ("dashboard.used_n", "{0} used"),
    (
        "dashboard.verify_first",
        "Please confirm your e-mail address — until then nothing can be saved. We sent you a link.",
    ),
    // charts and lists
    (
        "chart.empty",
        "No entries yet — the chart appears with the first one.",
    ),
    ("chart.numbers", "The numbers"),
    ("entries.none", "No entries yet."),
    ("entries.older", "Older entries"),
    ("entries.delete_one", "Delete the entry of {0}"),
    ("range.30d", "30 days"),
    ("range.90d", "90 days"),
    ("range.1y", "1 year"),
    ("range.all", "All"),
    // weight
    ("weight.title", "Weight"),
    ("weight.add", "Add a weight"),
    ("weight.chart", "Progress"),
    (
        "weight.chart_label",
        "Weight over time with the 7-day average",
    ),
    ("weight.range", "Time range"),
    ("weight.raw", "Measured"),
    ("weight.average", "7-day average"),
    ("weight.entries", "Entries"),
    ("weight.import", "Import a CSV file"),
    (
        "weight.import_intro",
        "One weight per line: date,weight_kg and an optional note (a semicolon works too, and 72,5 with a decimal comma). Each line counts like a single entry; if the file does not fit your limit, nothing is imported.",
    ),
    ("weight.import_file", "CSV file"),
    (
        "import.columns",
        "expected date, weight and an optional note",
    ),
    ("import.bad_line", "Line {0}: {1}. Nothing was imported."),
    ("import.empty", "The file has no weights."),
    ("import.not_text", "The file is not a text (UTF-8) file."),
    ("import.too_many", "At most {0} lines at once."),
    // measurements
    ("measurements.title", "Measurements"),
    ("measurements.add", "Add measurements"),
    (
        "measurements.hint",
        "In centimetres; fill in the sites you measured (at least one).",
    ),
    (
        "measurements.one_site",
        "Please enter at least one measurement.",
    ),
    ("measurements.since_first", "{0} since the first entry"),
    ("measurements.entries", "Entries"),
    ("site.neck", "Neck"),
    ("site.chest", "Chest"),
    ("site.waist", "Waist"),
    ("site.hip", "Hip"),
    ("site.thigh", "Thigh"),
    ("site.arm", "Arm"),
    ("site.calf", "Calf"),
    ("site.abdomen", "Abdomen"),
    ("site.triceps", "Triceps"),
    ("site.suprailiac", "Suprailiac"),
    ("site.midaxillary", "Midaxillary"),
    ("site.subscapular", "Subscapular"),
    // body fat
    ("body_fat.title", "Body fat"),
    ("body_fat.add", "Add a caliper measurement"),
    ("body_fat.method", "Method"),
    ("body_fat.jp3_male", "3 sites, men"),
    ("body_fat.jp3_female", "3 sites, women"),
    ("body_fat.jp7_male", "7 sites, men"),
    ("body_fat.jp7_female", "7 sites, women"),
    ("body_fat.chart", "Body fat over time"),
    ("body_fat.results", "Results"),
    ("body_fat.pct", "Body fat"),
    ("body_fat.fat_mass", "Fat mass"),
    ("body_fat.lean_mass", "Lean mass"),
    ("body_fat.weight_used", "Weight used"),
    (
        "body_fat.mass_note",
        "Fat and lean mass use the weight entry nearest to the day of the measurement (Jackson–Pollock, Siri).",
    ),
    // nutrition
    ("nutrition.title", "Nutrition"),
    ("nutrition.add", "Add a meal"),
    ("nutrition.chart", "Energy per day, last 30 days"),
    ("nutrition.totals", "Daily totals"),
    ("nutrition.entries", "Entries"),
    // activity
    ("activity.title", "Activity"),
    ("activity.add", "Add an activity"),
    ("activity.chart", "Minutes per week"),
    ("activity.week", "Week"),
    ("activity.week_of", "Week {0}"),
    ("activity.entries", "Entries"),
    // photos
    ("photos.title", "Photos"),
    ("photos.upload", "Add a photo"),
    ("photos.file", "Photo (JPEG, PNG or WebP)"),
    ("photos.taken_on", "Taken on"),
    ("photos.submit", "Upload"),
    (
        "photos.privacy",
        "Location and camera data are removed before the photo is stored.",
    ),
    ("photos.compare", "Compare two days"),
    ("photos.compare_need_two", "Add two photos to compare them."),
    ("photos.first", "First"),
    ("photos.second", "Second"),
    ("photos.all", "All photos"),
    ("photos.none", "No photos yet."),
    ("photos.alt", "Progress photo of {0}"),
    ("photos.no_weight", "no weight that week"),
    ("photos.delete_one", "Delete the photo of {0}"),
    ("photos.too_large", "This file is too large."),
    ("photos.not_image", "This is not a JPEG, PNG or WebP image."),
    // insights
    ("insights.title", "Insights"),
    ("insights.ask", "Ask about your progress"),
    ("insights.question", "Your question (optional)"),
    ("insights.submit", "Ask"),
    ("insights.calls_left", "AI calls left this period: {0}"),
    (
        "insights.privacy",
        "The AI sees your measurements and notes of the last 90 days — never your name or e-mail address.",
    ),
    ("insights.pipeline", "Full analysis"),
    (
        "insights.pipeline_intro",
        "Three steps: a summary, the patterns in it, and recommendations for the next four weeks. Each step uses one AI call.",
    ),
    ("insights.run", "Run the analysis"),
    (
        "insights.pipeline_off",
        "The full analysis is not part of your plan.",
    ),
    (
        "insights.unavailable",
        "No AI provider is set up on this server, so insights are not available.",
    ),
    (
        "insights.failed",
        "The AI did not answer in time. Nothing was counted; please try again later.",
    ),
    ("insights.recent", "Recent answers"),
    ("insights.none", "No answers yet."),
    ("insights.step.summary", "Summary"),
    ("insights.step.patterns", "Patterns"),
    ("insights.step.recommendations", "Recommendations"),
    // plan
    ("plan.title", "My plan"),
    ("plan.your_tier", "Your plan"),
    ("plan.why_base", "This is your account's plan."),
    ("plan.why_trial", "You are trying it out until {0}."),
    ("plan.why_coupon", "From the coupon {0}."),
    ("plan.why_grant", "Given to you by an administrator."),
    ("plan.features", "What you may do"),
    ("plan.feature", "Feature"),
    ("plan.limit", "Limit"),
    ("plan.used", "Used"),
    ("plan.remaining", "Left"),
    ("plan.resets", "Resets"),
    ("plan.source", "Why"),
    ("plan.off", "off"),
    ("plan.on", "included"),
    ("plan.unlimited", "unlimited"),
    ("plan.per_period", "{0} per {1}"),
    ("plan.used_of", "{0} of {1}"),
    ("plan.grants", "Access from coupons and grants"),
    ("plan.timeline", "When each grant runs, waits or is paused"),
    ("plan.no_grants", "No coupons or grants yet."),
    ("plan.now", "now"),
    ("plan.days_left", "{0} days left"),
    ("plan.ends", "until {0}"),
    ("plan.paused_because", "paused: {0}"),
    ("plan.from_coupon", "coupon {0}"),
    ("plan.from_admin", "from an administrator"),
    ("plan.redeem", "Redeem a coupon"),
    ("plan.redeemed", "Redeemed: you now have {0}."),
    ("plan.redeemed_until", "Redeemed: you have {0} until {1}."),
    (
        "plan.redeemed_days",
        "Redeemed: {1} days of {0}, starting as soon as nothing better runs.",
    ),
    ("coupon.invalid", "This code is not valid."),
    ("coupon.expired", "This coupon cannot be redeemed now."),
    ("coupon.exhausted", "This coupon has been used up."),
    ("coupon.already", "You have redeemed this coupon already."),
    ("period.never", "ever"),
    ("period.daily", "day"),
    ("period.weekly", "week"),
    ("period.monthly", "month"),
    ("period.yearly", "year"),
    ("source.feature_inactive", "switched off for everyone"),
    ("source.user_restriction", "your personal limit"),
    ("source.tier_limit", "your plan"),
    ("source.feature_default", "the standard limit"),
    ("status.running", "running"),
    ("status.waiting", "waiting"),
    ("status.paused", "paused"),
    ("status.paused_stacking", "paused (another grant runs)"),
    ("status.paused_admin", "paused by an administrator"),
    ("status.expired", "expired"),
    ("status.revoked", "revoked"),
    ("feature.weight", "Weight entries"),
    ("feature.circumference", "Measurements"),
    ("feature.caliper", "Body-fat measurements"),
    ("feature.nutrition", "Meals"),
    ("feature.activity", "Activities"),
    ("feature.photos", "Photos"),
    ("feature.ai_calls", "AI calls"),
    ("feature.ai_pipeline", "Full AI analysis"),
    ("feature.export_csv", "CSV downloads"),
    ("feature.export_json", "JSON downloads"),
    ("feature.export_zip", "ZIP downloads"),
    ("tier.free", "Free"),
    ("tier.basic", "Basic"),
    ("tier.premium", "Premium"),
    ("tier.selfhosted", "Self-hosted"),
];

pub const DE: &[(&str, &str)] = &[
    ("layout.skip", "Zum Inhalt springen"),
    ("layout.api", "API"),
    ("nav.label", "Hauptnavigation"),
    ("nav.dashboard", "Übersicht"),
    ("nav.weight", "Gewicht"),
    ("nav.measurements", "Umfänge"),
    ("nav.body_fat", "Körperfett"),
    ("nav.nutrition", "Ernährung"),
    ("nav.activity", "Aktivität"),
    ("nav.photos", "Fotos"),
    ("nav.insights", "Auswertungen"),
    ("nav.plan", "Mein Tarif"),
    ("nav.account", "Konto"),
    ("nav.admin", "Verwaltung"),
    ("nav.sign_out", "Abmelden"),
    ("error.not_found", "Seite nicht gefunden"),
    (
        "error.not_found_text",
        "Unter dieser Adresse gibt es nichts.",
    ),
    ("error.forbidden", "Nicht erlaubt"),
    (
        "error.forbidden_text",
        "Du darfst diese Seite nicht öffnen, oder das Formular kam nicht von Mitai. Bitte versuche es auf der Seite selbst noch einmal.",
    ),
    ("error.rate_limited", "Zu viele Versuche"),
    (
        "error.rate_limited_text",
        "Zu viele Versuche. Bitte warte ein paar Minuten und versuche es dann noch einmal.",
    ),
    ("error.bad_request", "Das hat nicht geklappt"),
    (
        "error.bad_request_text",
        "Die Anfrage war nicht lesbar. Bitte geh zurück und versuche es noch einmal.",
    ),
    ("error.internal", "Etwas ist schiefgegangen"),
    (
        "error.internal_text",
        "Bei uns ist etwas schiefgegangen. Nichts von deinen Eingaben ist verloren; bitte versuche es gleich noch einmal.",
    ),
    ("error.home", "Zur Übersicht"),
    ("f.email", "E-Mail-Adresse"),
    ("f.password", "Passwort"),
    ("f.new_password", "Neues Passwort (8–128 Zeichen)"),
    ("f.current_password", "Aktuelles Passwort"),
    ("f.name", "Name"),
    ("f.name_optional", "Name (freiwillig)"),
    ("f.language", "Sprache"),
    ("f.date", "Datum"),
    ("f.note", "Notiz"),
    ("f.weight_kg", "Gewicht"),
    ("f.age", "Alter"),
    ("f.kcal", "Energie"),
    ("f.kcal_optional", "Energie (freiwillig)"),
    ("f.protein_g", "Eiweiß"),
    ("f.carbs_g", "Kohlenhydrate"),
    ("f.fat_g", "Fett"),
    ("f.kind", "Art der Aktivität"),
    ("f.minutes", "Minuten"),
    ("f.code", "Gutscheincode"),
    ("field.range", "Erlaubt sind Werte von {0} bis {1}."),
    ("field.date", "Bitte gib ein Datum ein."),
    ("field.email", "Bitte gib eine E-Mail-Adresse ein."),
    ("field.password", "Das Passwort braucht 8 bis 128 Zeichen."),
    ("field.too_long", "Das ist zu lang."),
    ("field.too_long_n", "Höchstens {0} Zeichen."),
    ("field.future", "Dieses Datum liegt in der Zukunft."),
    ("field.invalid", "Dieser Wert ist nicht gültig."),
    ("field.required", "Bitte fülle das aus."),
    (
        "field.number",
        "Bitte gib eine Zahl ein, zum Beispiel 72,5.",
    ),
    ("field.whole_number", "Bitte gib eine ganze Zahl ein."),
    ("action.save", "Speichern"),
    ("action.add", "Hinzufügen"),
    ("action.delete", "Löschen"),
    ("action.import", "Importieren"),
    ("action.compare", "Vergleichen"),
    ("action.redeem", "Einlösen"),
    ("done.saved", "Gespeichert."),
    (
        "done.password_changed",
        "Dein Passwort ist geändert. Deine anderen Sitzungen wurden abgemeldet.",
    ),
    ("done.invited", "Die Einladung ist unterwegs."),
    ("done.signed_out", "Du bist abgemeldet."),
    (
        "done.signed_out_everywhere",
        "Du bist auf allen Geräten abgemeldet.",
    ),
    ("done.entry_added", "Eintrag hinzugefügt."),
    ("done.entry_deleted", "Eintrag gelöscht."),
    ("done.imported", "Die Datei wurde importiert."),
    ("done.photo_added", "Foto hinzugefügt."),
    ("done.photo_deleted", "Foto gelöscht."),
    (
        "done.verification_sent",
        "Wir haben dir einen neuen Bestätigungslink geschickt.",
    ),
    (
        "refusal.limit",
        "{0}: Du hast alle {1} für diesen Zeitraum verbraucht. Ab {2} geht es wieder.",
    ),
    (
        "refusal.limit_never",
        "{0}: Du hast alle {1} verbraucht; diese Grenze setzt sich nicht zurück.",
    ),
    (
        "refusal.disabled",
        "{0} ist gerade nicht in deinem Tarif enthalten.",
    ),
    (
        "refusal.unverified",
        "Bitte bestätige zuerst deine E-Mail-Adresse – wir haben dir einen Link geschickt. Es wurde nichts gespeichert.",
    ),
    ("refusal.forbidden", "Das darfst du nicht."),
    (
        "refusal.rate_limited",
        "Zu viele Versuche. Bitte versuche es in {0} Minuten noch einmal.",
    ),
    ("refusal.plan_link", "Zu meinem Tarif"),
    ("login.title", "Anmelden"),
    ("login.submit", "Anmelden"),
    ("login.register", "Konto anlegen"),
    ("login.forgot", "Passwort vergessen?"),
    ("login.wrong", "E-Mail-Adresse oder Passwort ist falsch."),
    ("login.disabled", "Dieses Konto ist gesperrt."),
    (
        "login.rate_limited",
        "Zu viele Versuche. Bitte versuche es in {0} Minuten noch einmal.",
    ),
    ("register.title", "Konto anlegen"),
    ("register.submit", "Konto anlegen"),
    ("register.have_account", "Ich habe schon ein Konto"),
    (
        "register.invited",
        "Du wurdest eingeladen: Dein Konto ist bereit, sobald du es anlegst.",
    ),
    (
        "register.closed",
        "Auf diesem Server können keine Konten angelegt werden.",
    ),
    (
        "register.invite_only",
        "Neue Konten gibt es hier nur mit Einladung. Frag nach einem Einladungslink.",
    ),
    (
        "register.bad_invitation",
        "Dieser Einladungslink ist (nicht mehr) gültig.",
    ),
    (
        "register.ready",
        "Dein Konto ist bereit. Du kannst dich jetzt anmelden.",
    ),
    (
        "register.check_mail",
        "Fast geschafft: Wir haben einen Bestätigungslink an {0} geschickt. Bitte öffne ihn, um deine Adresse zu bestätigen.",
    ),
    (
        "register.taken",
        "Zu dieser E-Mail-Adresse gibt es schon ein Konto.",
    ),
    ("forgot.title", "Passwort vergessen?"),
    (
        "forgot.intro",
        "Gib deine E-Mail-Adresse ein, und wir schicken dir einen Link, mit dem du ein neues Passwort wählst.",
    ),
    ("forgot.submit", "Link schicken"),
    (
        "forgot.sent",
        "Falls es ein Konto mit dieser Adresse gibt, ist ein Link zum Zurücksetzen unterwegs. Er gilt eine Stunde.",
    ),
    ("verify.title", "E-Mail-Adresse bestätigen"),
    (
        "verify.intro",
        "Drück den Knopf, um zu bestätigen, dass diese Adresse dir gehört.",
    ),
    ("verify.submit", "Adresse bestätigen"),
    ("verify.done", "Danke! Deine E-Mail-Adresse ist bestätigt."),
    (
        "verify.invalid",
        "Dieser Link ist ungültig oder abgelaufen. Auf deiner Kontoseite kannst du einen neuen anfordern.",
    ),
    ("reset.title", "Neues Passwort wählen"),
    ("reset.submit", "Passwort setzen"),
    (
        "reset.done",
        "Dein neues Passwort ist gesetzt, und alle Sitzungen wurden abgemeldet. Bitte melde dich an.",
    ),
    (
        "reset.invalid",
        "Dieser Link ist ungültig oder abgelaufen. Bitte fordere einen neuen an.",
    ),
    ("account.title", "Konto"),
    ("account.profile", "Profil"),
    ("account.unverified", "noch nicht bestätigt"),
    ("account.resend", "Bestätigungslink noch einmal schicken"),
    ("account.password", "Passwort"),
    ("account.change_password", "Passwort ändern"),
    (
        "account.wrong_password",
        "Das ist nicht dein aktuelles Passwort.",
    ),
    ("account.exports", "Deine Daten"),
    (
        "account.exports_intro",
        "Lade alles herunter, was du eingetragen hast. Jeder Download zählt zu seiner Grenze in deinem Tarif.",
    ),
    ("account.download", "{0} herunterladen"),
    ("account.invite", "Jemanden einladen"),
    ("account.send_invitation", "Einladung schicken"),
    ("account.sessions", "Sitzungen"),
    (
        "account.sessions_intro",
        "Auf einem Gerät angemeldet, das du nicht mehr nutzt? Melde dich überall ab, auch hier.",
    ),
    ("account.sign_out_everywhere", "Überall abmelden"),
    ("dashboard.hello", "Hallo, {0}"),
    (
        "dashboard.trial_left",
        "Deine Testphase mit {1} endet in {0} Tagen.",
    ),
    ("dashboard.see_plan", "Was mein Tarif enthält"),
    ("dashboard.quick_weight", "Gewicht von heute"),
    ("dashboard.trend", "{0} kg in 90 Tagen"),
    ("dashboard.usage", "Dieser Zeitraum"),
    ("dashboard.used_n", "{0} genutzt"),
    (
        "dashboard.verify_first",
        "Bitte bestätige deine E-Mail-Adresse – bis dahin kann nichts gespeichert werden. Wir haben dir einen Link geschickt.",
    ),
    (
        "chart.empty",
        "Noch keine Einträge – das Diagramm erscheint mit dem ersten.",
    ),
    ("chart.numbers", "Die Zahlen"),
    ("entries.none", "Noch keine Einträge."),
    ("entries.older", "Ältere Einträge"),
    ("entries.delete_one", "Eintrag vom {0} löschen"),
    ("range.30d", "30 Tage"),
    ("range.90d", "90 Tage"),
    ("range.1y", "1 Jahr"),
    ("range.all", "Alles"),
    ("weight.title", "Gewicht"),
    ("weight.add", "Gewicht eintragen"),
    ("weight.chart", "Verlauf"),
    (
        "weight.chart_label",
        "Gewicht im Verlauf mit dem 7-Tage-Mittel",
    ),
    ("weight.range", "Zeitraum"),
    ("weight.raw", "Gemessen"),
    ("weight.average", "7-Tage-Mittel"),
    ("weight.entries", "Einträge"),
    ("weight.import", "CSV-Datei importieren"),
    (
        "weight.import_intro",
        "Ein Gewicht pro Zeile: Datum,Gewicht und eine freiwillige Notiz (Semikolon geht auch, und 72,5 mit Dezimalkomma). Jede Zeile zählt wie ein einzelner Eintrag; passt die Datei nicht in deine Grenze, wird nichts importiert.",
    ),
    ("weight.import_file", "CSV-Datei"),
    (
        "import.columns",
        "erwartet sind Datum, Gewicht und eine freiwillige Notiz",
    ),
    (
        "import.bad_line",
        "Zeile {0}: {1}. Es wurde nichts importiert.",
    ),
    ("import.empty", "Die Datei enthält keine Gewichte."),
    ("import.not_text", "Die Datei ist keine Textdatei (UTF-8)."),
    ("import.too_many", "Höchstens {0} Zeilen auf einmal."),
    ("measurements.title", "Umfänge"),
    ("measurements.add", "Umfänge eintragen"),
    (
        "measurements.hint",
        "In Zentimetern; trag die Stellen ein, die du gemessen hast (mindestens eine).",
    ),
    (
        "measurements.one_site",
        "Bitte trag mindestens einen Umfang ein.",
    ),
    ("measurements.since_first", "{0} seit dem ersten Eintrag"),
    ("measurements.entries", "Einträge"),
    ("site.neck", "Hals"),
    ("site.chest", "Brust"),
    ("site.waist", "Taille"),
    ("site.hip", "Hüfte"),
    ("site.thigh", "Oberschenkel"),
    ("site.arm", "Arm"),
    ("site.calf", "Wade"),
    ("site.abdomen", "Bauch"),
    ("site.triceps", "Trizeps"),
    ("site.suprailiac", "Hüftknochen"),
    ("site.midaxillary", "Seite (Achsellinie)"),
    ("site.subscapular", "Schulterblatt"),
    ("body_fat.title", "Körperfett"),
    ("body_fat.add", "Caliper-Messung eintragen"),
    ("body_fat.method", "Methode"),
    ("body_fat.jp3_male", "3 Stellen, Männer"),
    ("body_fat.jp3_female", "3 Stellen, Frauen"),
    ("body_fat.jp7_male", "7 Stellen, Männer"),
    ("body_fat.jp7_female", "7 Stellen, Frauen"),
    ("body_fat.chart", "Körperfett im Verlauf"),
    ("body_fat.results", "Ergebnisse"),
    ("body_fat.pct", "Körperfett"),
    ("body_fat.fat_mass", "Fettmasse"),
    ("body_fat.lean_mass", "Magermasse"),
    ("body_fat.weight_used", "Gewicht dazu"),
    (
        "body_fat.mass_note",
        "Fett- und Magermasse nutzen das Gewicht, das dem Messtag am nächsten liegt (Jackson–Pollock, Siri).",
    ),
    ("nutrition.title", "Ernährung"),
    ("nutrition.add", "Mahlzeit eintragen"),
    ("nutrition.chart", "Energie pro Tag, letzte 30 Tage"),
    ("nutrition.totals", "Tagessummen"),
    ("nutrition.entries", "Einträge"),
    ("activity.title", "Aktivität"),
    ("activity.add", "Aktivität eintragen"),
    ("activity.chart", "Minuten pro Woche"),
    ("activity.week", "Woche"),
    ("activity.week_of", "KW {0}"),
    ("activity.entries", "Einträge"),
    ("photos.title", "Fotos"),
    ("photos.upload", "Foto hinzufügen"),
    ("photos.file", "Foto (JPEG, PNG oder WebP)"),
    ("photos.taken_on", "Aufgenommen am"),
    ("photos.submit", "Hochladen"),
    (
        "photos.privacy",
        "Standort- und Kameradaten werden entfernt, bevor das Foto gespeichert wird.",
    ),
    ("photos.compare", "Zwei Tage vergleichen"),
    (
        "photos.compare_need_two",
        "Füge zwei Fotos hinzu, um sie zu vergleichen.",
    ),
    ("photos.first", "Erstes"),
    ("photos.second", "Zweites"),
    ("photos.all", "Alle Fotos"),
    ("photos.none", "Noch keine Fotos."),
    ("photos.alt", "Fortschrittsfoto vom {0}"),
    ("photos.no_weight", "kein Gewicht in dieser Woche"),
    ("photos.delete_one", "Foto vom {0} löschen"),
    ("photos.too_large", "Diese Datei ist zu groß."),
    (
        "photos.not_image",
        "Das ist kein JPEG-, PNG- oder WebP-Bild.",
    ),
    ("insights.title", "Auswertungen"),
    ("insights.ask", "Frag nach deinem Fortschritt"),
    ("insights.question", "Deine Frage (freiwillig)"),
    ("insights.submit", "Fragen"),
    (
        "insights.calls_left",
        "KI-Anfragen in diesem Zeitraum übrig: {0}",
    ),
    (
        "insights.privacy",
        "Die KI sieht deine Messwerte und Notizen der letzten 90 Tage – nie deinen Namen oder deine E-Mail-Adresse.",
    ),
    ("insights.pipeline", "Ausführliche Analyse"),
    (
        "insights.pipeline_intro",
        "Drei Schritte: eine Zusammenfassung, die Muster darin und Empfehlungen für die nächsten vier Wochen. Jeder Schritt nutzt eine KI-Anfrage.",
    ),
    ("insights.run", "Analyse starten"),
    (
        "insights.pipeline_off",
        "Die ausführliche Analyse ist nicht in deinem Tarif enthalten.",
    ),
    (
        "insights.unavailable",
        "Auf diesem Server ist keine KI eingerichtet, deshalb gibt es keine Auswertungen.",
    ),
    (
        "insights.failed",
        "Die KI hat nicht rechtzeitig geantwortet. Es wurde nichts gezählt; bitte versuche es später noch einmal.",
    ),
    ("insights.recent", "Letzte Antworten"),
    ("insights.none", "Noch keine Antworten."),
    ("insights.step.summary", "Zusammenfassung"),
    ("insights.step.patterns", "Muster"),
    ("insights.step.recommendations", "Empfehlungen"),
    ("plan.title", "Mein Tarif"),
    ("plan.your_tier", "Dein Tarif"),
    ("plan.why_base", "Das ist der Tarif deines Kontos."),
    ("plan.why_trial", "Du testest ihn bis {0}."),
    ("plan.why_coupon", "Aus dem Gutschein {0}."),
    (
        "plan.why_grant",
        "Von einer Administratorin oder einem Administrator für dich freigeschaltet.",
    ),
    ("plan.features", "Was du tun kannst"),
    ("plan.feature", "Funktion"),
    ("plan.limit", "Grenze"),
    ("plan.used", "Genutzt"),
    ("plan.remaining", "Übrig"),
    ("plan.resets", "Zurückgesetzt"),
    ("plan.source", "Warum"),
    ("plan.off", "aus"),
    ("plan.on", "enthalten"),
    ("plan.unlimited", "unbegrenzt"),
    ("plan.per_period", "{0} pro {1}"),
    ("plan.used_of", "{0} von {1}"),
    ("plan.grants", "Zugang aus Gutscheinen und Freischaltungen"),
    (
        "plan.timeline",
        "Wann jede Freischaltung läuft, wartet oder pausiert",
    ),
    (
        "plan.no_grants",
        "Noch keine Gutscheine oder Freischaltungen.",
    ),
    ("plan.now", "jetzt"),
    ("plan.days_left", "noch {0} Tage"),
    ("plan.ends", "bis {0}"),
    ("plan.paused_because", "pausiert: {0}"),
    ("plan.from_coupon", "Gutschein {0}"),
    ("plan.from_admin", "von der Verwaltung"),
    ("plan.redeem", "Gutschein einlösen"),
    ("plan.redeemed", "Eingelöst: Du hast jetzt {0}."),
    ("plan.redeemed_until", "Eingelöst: Du hast {0} bis {1}."),
    (
        "plan.redeemed_days",
        "Eingelöst: {1} Tage {0}, ab dem Moment, in dem nichts Besseres läuft.",
    ),
    ("coupon.invalid", "Dieser Code ist nicht gültig."),
    (
        "coupon.expired",
        "Dieser Gutschein kann jetzt nicht eingelöst werden.",
    ),
    ("coupon.exhausted", "Dieser Gutschein ist aufgebraucht."),
    (
        "coupon.already",
        "Du hast diesen Gutschein schon eingelöst.",
    ),
    ("period.never", "insgesamt"),
    ("period.daily", "Tag"),
    ("period.weekly", "Woche"),
    ("period.monthly", "Monat"),
    ("period.yearly", "Jahr"),
    ("source.feature_inactive", "für alle abgeschaltet"),
    ("source.user_restriction", "deine persönliche Grenze"),
    ("source.tier_limit", "dein Tarif"),
    ("source.feature_default", "die Standardgrenze"),
    ("status.running", "läuft"),
    ("status.waiting", "wartet"),
    ("status.paused", "pausiert"),
    ("status.paused_stacking", "pausiert (eine andere läuft)"),
    ("status.paused_admin", "von der Verwaltung pausiert"),
    ("status.expired", "abgelaufen"),
    ("status.revoked", "widerrufen"),
    ("feature.weight", "Gewichtseinträge"),
    ("feature.circumference", "Umfangsmessungen"),
    ("feature.caliper", "Körperfettmessungen"),
    ("feature.nutrition", "Mahlzeiten"),
    ("feature.activity", "Aktivitäten"),
    ("feature.photos", "Fotos"),
    ("feature.ai_calls", "KI-Anfragen"),
    ("feature.ai_pipeline", "Ausführliche KI-Analyse"),
    ("feature.export_csv", "CSV-Downloads"),
    ("feature.export_json", "JSON-Downloads"),
    ("feature.export_zip", "ZIP-Downloads"),
    ("tier.free", "Kostenlos"),
    ("tier.basic", "Basis"),
    ("tier.premium", "Premium"),
    ("tier.selfhosted", "Selbst gehostet"),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(table: &[(&'static str, &str)]) -> BTreeSet<&'static str> {
        table.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn both_languages_have_the_same_keys_once() {
        let (en, de) = (keys(EN), keys(DE));
        assert_eq!(en.len(), EN.len(), "a key twice in English");
        assert_eq!(de.len(), DE.len(), "a key twice in German");
        let missing_de: Vec<_> = en.difference(&de).collect();
        let missing_en: Vec<_> = de.difference(&en).collect();
        assert!(missing_de.is_empty(), "missing in German: {missing_de:?}");
        assert!(missing_en.is_empty(), "missing in English: {missing_en:?}");
        for (key, text) in EN.iter().chain(DE) {
            assert!(!text.trim().is_empty(), "{key} is empty");
        }
    }

    /// Every literal key the pages look up exists, found by reading the UI's sources and
    /// templates: a key typed wrong fails here, not on a page.
    #[test]
    fn every_key_the_pages_use_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in [
            "src/ui",
            "src/ui/admin",
            "templates/ui",
            "templates/ui/admin",
        ] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.path().is_file() {
                    sources.push(std::fs::read_to_string(entry.path()).unwrap());
                }
            }
        }
        assert!(sources.len() > 10, "the sources were not found");
        let en = keys(EN);
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
        let en = keys(EN);
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
