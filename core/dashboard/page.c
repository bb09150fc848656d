/*
 * The dashboard's HTML: the funnel of each program, the stage flow of
 * the last 12 weeks and the per-rule table. Every chart is an inline SVG
 * with a title and description, followed by a table of the same numbers
 * as its text equivalent. The page has no script, no external resource
 * and no font of its own.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dashboard/dashboard.h"
#include "rules/rules.h"
#include "server/server.h"

#define DAY_MS INT64_C(86400000)
#define WEEKS 12

/* Line colors with at least 4.5:1 contrast on white. The legend's order
 * and the table also distinguish the stages, for readers who cannot
 * tell the colors apart. */
static const char *const colors[] = {
    "#1f5fa8", "#a8321f", "#2e6b30", "#6a1b9a", "#7a5200"
};
#define COLOR_COUNT (sizeof(colors) / sizeof(colors[0]))

static const char style[] =
    "body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;"
    "background:#fff;line-height:1.4}"
    "header,main{padding:0 1rem;max-width:48rem;margin:0 auto}"
    "header{display:flex;flex-wrap:wrap;align-items:center;"
    "justify-content:space-between;border-bottom:1px solid #767676}"
    "h1{font-size:1.4rem}h2{font-size:1.2rem;margin-top:2rem}"
    "svg.chart{width:100%;max-width:32rem;height:auto;display:block}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;margin:0.5rem 0 1rem}"
    "caption{text-align:left;font-weight:600;padding:0.25rem 0}"
    "th,td{border:1px solid #767676;padding:0.25rem 0.5rem;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "button,input{font:inherit;padding:0.4rem 0.8rem}"
    "a:focus,button:focus,input:focus,.scroll:focus{outline:3px solid "
    "#1f5fa8;outline-offset:2px}"
    ".legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;"
    "gap:0.25rem 1rem}"
    ".swatch{display:inline-block;width:1rem;height:0.25rem;"
    "vertical-align:middle;margin-right:0.3rem}"
    ".error{color:#a8321f;font-weight:600}";


void
dashboard_escape(GString *out, const char *text)
{
    for (const char *p = text != NULL ? text : ""; *p != '\0'; p++) {
        switch (*p) {
        case '&': g_string_append(out, "&amp;"); break;
        case '<': g_string_append(out, "&lt;"); break;
        case '>': g_string_append(out, "&gt;"); break;
        case '"': g_string_append(out, "&quot;"); break;
        case '\'': g_string_append(out, "&#39;"); break;
        default: g_string_append_c(out, *p);
        }
    }
}


static void
head_render(GString *out, const char *title)
{
    g_string_append(out, "<!doctype html>\n<html lang=\"en\"><head>"
                    "<meta charset=\"utf-8\"><meta name=\"viewport\" "
                    "content=\"width=device-width, initial-scale=1\">"
                    "<title>");
    dashboard_escape(out, title);
    g_string_append_printf(out, "</title><style>%s</style></head><body>",
                           style);
}


static json_int_t
sum_of(const json_t *list, const char *program, const char *key,
       const char *value)
{
    json_int_t sum = 0;
    size_t i;
    json_t *row;

    json_array_foreach(list, i, row)
        if (strcmp(json_string_value(json_object_get(row, "program")),
                   program) == 0 &&
            g_strcmp0(json_string_value(json_object_get(row, key)),
                      value) == 0)
            sum += json_integer_value(json_object_get(row, "count"));
    return sum;
}


/* A scrollable wrapper that keyboard users can reach and scroll. */
static void
table_open(GString *out, const char *id, const char *caption)
{
    g_string_append_printf(out, "<div class=\"scroll\" role=\"region\" "
                           "tabindex=\"0\" aria-labelledby=\"%s-caption\">"
                           "<table id=\"%s\"><caption id=\"%s-caption\">",
                           id, id, id);
    dashboard_escape(out, caption);
    g_string_append(out, "</caption>");
}


static void
funnel_render(GString *out, const struct program *p, const json_t *report,
              int index)
{
    const json_t *residents = json_object_get(report, "residents");
    const json_t *moves = json_object_get(report, "moves");
    json_int_t max = 1;
    guint n = p->stages->len;
    char id[32];

    for (guint s = 0; s < n; s++)
        max = MAX(max, sum_of(residents, p->name, "stage",
                              g_ptr_array_index(p->stages, s)));
    snprintf(id, sizeof(id), "funnel-%d", index);
    g_string_append_printf(out, "<section aria-labelledby=\"%s-h\">"
                           "<h2 id=\"%s-h\">Funnel: ", id, id);
    dashboard_escape(out, p->name);
    g_string_append_printf(out, "</h2><svg class=\"chart funnel\" "
                           "role=\"img\" viewBox=\"0 0 320 %u\" "
                           "aria-labelledby=\"%s-t\"><title id=\"%s-t\">"
                           "Residents per stage now, as bars; the table "
                           "below has the numbers</title>",
                           n * 30 + 10, id, id);
    for (guint s = 0; s < n; s++) {
        const char *stage = g_ptr_array_index(p->stages, s);
        json_int_t count = sum_of(residents, p->name, "stage", stage);
        double width = 150.0 * (double) count / (double) max;

        g_string_append_printf(out, "<text x=\"0\" y=\"%u\" "
                               "font-size=\"14\" fill=\"#1a1a1a\">",
                               s * 30 + 24);
        dashboard_escape(out, stage);
        g_string_append_printf(out, "</text><rect class=\"bar\" x=\"110\" "
                               "y=\"%u\" width=\"%.1f\" height=\"20\" "
                               "fill=\"#1f5fa8\"></rect><text x=\"%.1f\" "
                               "y=\"%u\" font-size=\"14\" fill=\"#1a1a1a\">"
                               "%" JSON_INTEGER_FORMAT "</text>",
                               s * 30 + 10, width, 114 + width, s * 30 + 24,
                               count);
    }
    g_string_append(out, "</svg>");
    table_open(out, id, "Residents per stage now, and entries in the last "
               "12 weeks");
    g_string_append(out, "<thead><tr><th scope=\"col\">Stage</th>"
                    "<th scope=\"col\">Residents</th><th scope=\"col\">"
                    "Entered</th></tr></thead><tbody>");
    for (guint s = 0; s < n; s++) {
        const char *stage = g_ptr_array_index(p->stages, s);

        g_string_append(out, "<tr><th scope=\"row\">");
        dashboard_escape(out, stage);
        g_string_append_printf(out, "</th><td class=\"n\">%"
                               JSON_INTEGER_FORMAT "</td><td class=\"n\">%"
                               JSON_INTEGER_FORMAT "</td></tr>",
                               sum_of(residents, p->name, "stage", stage),
                               sum_of(moves, p->name, "to", stage));
    }
    g_string_append(out, "</tbody></table></div>");
}


/* Counts the entries into each stage per week: counts[stage][week]. */
static void
flow_count(const struct program *p, const json_t *moves, int64_t start,
           json_int_t counts[][WEEKS])
{
    size_t i;
    json_t *m;

    json_array_foreach(moves, i, m) {
        int64_t day = json_integer_value(json_object_get(m, "day"));
        int64_t week = (day - start) / (7 * DAY_MS);
        const char *to = json_string_value(json_object_get(m, "to"));

        if (strcmp(json_string_value(json_object_get(m, "program")),
                   p->name) != 0 || week < 0 || week >= WEEKS)
            continue;
        for (guint s = 0; s < p->stages->len; s++)
            if (strcmp(g_ptr_array_index(p->stages, s), to) == 0)
                counts[s][week] += json_integer_value(json_object_get(m,
                                                                "count"));
    }
}


/* Week w starts on this date, as YYYY-MM-DD. */
static void
week_label(char *buf, size_t size, int64_t start, int w)
{
    GDateTime *dt = g_date_time_new_from_unix_utc((start + w * 7 * DAY_MS)
                                                  / 1000);
    char *text = g_date_time_format(dt, "%Y-%m-%d");

    snprintf(buf, size, "%s", text);
    g_free(text);
    g_date_time_unref(dt);
}


static void
flow_render(GString *out, const struct program *p, const json_t *report,
            int64_t start, int index)
{
    json_int_t counts[COLOR_COUNT * 4][WEEKS];
    guint n = MIN(p->stages->len, G_N_ELEMENTS(counts));
    json_int_t max = 1;
    char id[32];
    char label[16];

    memset(counts, 0, sizeof(counts));
    flow_count(p, json_object_get(report, "moves"), start, counts);
    for (guint s = 0; s < n; s++)
        for (int w = 0; w < WEEKS; w++)
            max = MAX(max, counts[s][w]);
    snprintf(id, sizeof(id), "flow-%d", index);
    g_string_append_printf(out, "<h2 id=\"%s-h\">Stage flow: ", id);
    dashboard_escape(out, p->name);
    g_string_append_printf(out, "</h2><svg class=\"chart flow\" "
                           "role=\"img\" viewBox=\"0 0 320 170\" "
                           "aria-labelledby=\"%s-t\"><title id=\"%s-t\">"
                           "Entries into each stage per week, as lines; "
                           "the table below has the numbers</title>"
                           "<line x1=\"20\" y1=\"150\" x2=\"315\" "
                           "y2=\"150\" stroke=\"#767676\"></line>"
                           "<text x=\"0\" y=\"14\" font-size=\"12\" "
                           "fill=\"#1a1a1a\">%" JSON_INTEGER_FORMAT
                           "</text><text x=\"0\" y=\"150\" font-size=\"12\""
                           " fill=\"#1a1a1a\">0</text>",
                           id, id, max);
    for (guint s = 0; s < n; s++) {
        g_string_append_printf(out, "<polyline class=\"line\" fill=\"none\""
                               " stroke-width=\"2.5\" stroke=\"%s\" "
                               "points=\"", colors[s % COLOR_COUNT]);
        for (int w = 0; w < WEEKS; w++)
            g_string_append_printf(out, "%s%.1f,%.1f", w ? " " : "",
                                   25 + w * 26.0,
                                   150 - 140.0 * (double) counts[s][w] /
                                   (double) max);
        g_string_append(out, "\"></polyline>");
    }
    g_string_append(out, "</svg><ul class=\"legend\">");
    for (guint s = 0; s < n; s++) {
        g_string_append_printf(out, "<li><span class=\"swatch\" "
                               "style=\"background:%s\"></span>",
                               colors[s % COLOR_COUNT]);
        dashboard_escape(out, g_ptr_array_index(p->stages, s));
        g_string_append(out, "</li>");
    }
    g_string_append(out, "</ul>");
    table_open(out, id, "Entries into each stage per week");
    g_string_append(out, "<thead><tr><th scope=\"col\">Week from</th>");
    for (guint s = 0; s < n; s++) {
        g_string_append(out, "<th scope=\"col\">");
        dashboard_escape(out, g_ptr_array_index(p->stages, s));
        g_string_append(out, "</th>");
    }
    g_string_append(out, "</tr></thead><tbody>");
    for (int w = 0; w < WEEKS; w++) {
        week_label(label, sizeof(label), start, w);
        g_string_append_printf(out, "<tr><th scope=\"row\">%s</th>", label);
        for (guint s = 0; s < n; s++)
            g_string_append_printf(out, "<td class=\"n\">%"
                                   JSON_INTEGER_FORMAT "</td>",
                                   counts[s][w]);
        g_string_append(out, "</tr>");
    }
    g_string_append(out, "</tbody></table></div></section>");
}


/* The per-rule table: the rows of `crier report rules` for 12 weeks. */
static void
rules_render(GString *out, const json_t *rules)
{
    static const char *const columns[] = {
        "planned", "sent", "failed", "suppressed", "delivered", "bounced",
        "opened", "clicked", "unsubscribed", "converted", NULL
    };
    size_t i;
    json_t *row;

    g_string_append(out, "<section aria-labelledby=\"rules-h\"><h2 "
                    "id=\"rules-h\">Rules</h2>");
    table_open(out, "rules", "Messages per rule in the last 12 weeks; "
               "opens and clicks leave out bots and mail proxies");
    g_string_append(out, "<thead><tr><th scope=\"col\">Rule</th>");
    for (int c = 0; columns[c] != NULL; c++)
        g_string_append_printf(out, "<th scope=\"col\">%s</th>",
                               columns[c]);
    g_string_append(out, "</tr></thead><tbody>");
    json_array_foreach(rules, i, row) {
        g_string_append(out, "<tr><th scope=\"row\">");
        dashboard_escape(out, json_string_value(json_object_get(row,
                                                                "rule")));
        g_string_append(out, "</th>");
        for (int c = 0; columns[c] != NULL; c++)
            g_string_append_printf(out, "<td class=\"n\">%"
                                   JSON_INTEGER_FORMAT "</td>",
                                   json_integer_value(json_object_get(
                                       row, columns[c])));
        g_string_append(out, "</tr>");
    }
    if (json_array_size(rules) == 0)
        g_string_append(out, "<tr><td colspan=\"9\">No messages in these "
                        "weeks.</td></tr>");
    g_string_append(out, "</tbody></table></div></section>");
}


void
dashboard_page_render(GString *out, const json_t *report, int64_t today_ms)
{
    int64_t start = today_ms - (WEEKS * 7 - 1) * DAY_MS;
    char since[16];

    week_label(since, sizeof(since), start, 0);
    head_render(out, "crier reports");
    g_string_append_printf(out, "<header><h1>crier reports</h1>"
                           "<form method=\"post\" action=\"/admin/logout\">"
                           "<button type=\"submit\">Log out</button>"
                           "</form></header><main><p>The last 12 weeks, "
                           "from %s (UTC). Residents per stage are counted "
                           "now.</p>", since);
    for (guint i = 0; server.rules && i < server.rules->programs->len; i++) {
        const struct program *p = g_ptr_array_index(server.rules->programs,
                                                    i);

        funnel_render(out, p, report, (int) i);
        flow_render(out, p, report, start, (int) i);
    }
    rules_render(out, json_object_get(report, "rules"));
    g_string_append(out, "</main></body></html>\n");
}


void
dashboard_login_render(GString *out, const char *error)
{
    head_render(out, "crier: log in");
    g_string_append(out, "<header><h1>crier reports</h1></header><main>"
                    "<form method=\"post\" action=\"/admin/login\">");
    if (error != NULL) {
        g_string_append(out, "<p class=\"error\" role=\"alert\">");
        dashboard_escape(out, error);
        g_string_append(out, "</p>");
    }
    g_string_append(out, "<p><label for=\"token\">Admin token</label><br>"
                    "<input id=\"token\" name=\"token\" type=\"password\" "
                    "autocomplete=\"current-password\" required></p>"
                    "<p><button type=\"submit\">Log in</button></p>"
                    "</form></main></body></html>\n");
}
