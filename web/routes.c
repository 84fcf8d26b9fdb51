/* web/routes.c - the table of the API's routes: one row per method and
 * path, in the order of docs/HTTP-API.md. A literal segment wins over "*"
 * by coming first. */
#include "routes.h"

#include <stdio.h>
#include <string.h>

static const web_route routes[] = {
    {"GET", "status", api_status, 0},
    {"GET", "events", NULL, WEB_R_STREAM},

    {"GET", "customers", api_customers_list, 0},
    {"POST", "customers", api_customer_create, WEB_R_JSON},
    {"GET", "customers/*", api_customer_get, 0},
    {"PATCH", "customers/*", api_customer_edit, WEB_R_JSON},
    {"DELETE", "customers/*", api_customer_delete, 0},
    {"GET", "customers/*/contacts", api_customer_contacts, 0},
    {"GET", "customers/*/consents", api_consents_get, 0},
    {"POST", "customers/*/consents", api_consents_post, WEB_R_JSON},
    {"GET", "customers/*/history", api_history, 0},
    {"GET", "customers/*/erase", api_erase_preview, 0},
    {"POST", "customers/*/erase", api_erase, WEB_R_JSON},
    {"GET", "customers/*/subject-export", api_subject_export, 0},
    {"GET", "customers/*/attachments", api_attachments_list, 0},
    {"POST", "customers/*/attachments", api_attachment_upload, WEB_R_FILE},

    {"POST", "contacts", api_contact_create, WEB_R_JSON},
    {"GET", "contacts/*", api_contact_get, 0},
    {"PATCH", "contacts/*", api_contact_edit, WEB_R_JSON},
    {"DELETE", "contacts/*", api_contact_delete, 0},
    {"GET", "contacts/*/attachments", api_attachments_list, 0},
    {"POST", "contacts/*/attachments", api_attachment_upload, WEB_R_FILE},

    {"GET", "documents", api_docs_list, 0},
    {"POST", "documents", api_doc_create, WEB_R_JSON},
    {"GET", "documents/*", api_doc_get, 0},
    {"PATCH", "documents/*", api_doc_edit, WEB_R_JSON},
    {"DELETE", "documents/*", api_doc_delete, 0},
    {"POST", "documents/*/lines", api_doc_line_add, WEB_R_JSON},
    {"PATCH", "documents/*/lines/*", api_doc_line_edit, WEB_R_JSON},
    {"DELETE", "documents/*/lines/*", api_doc_line_remove, 0},
    {"POST", "documents/*/lines/*/move", api_doc_line_move, WEB_R_JSON},
    {"POST", "documents/*/validate", api_doc_validate, WEB_R_JSON},
    {"POST", "documents/*/status", api_doc_status, WEB_R_JSON},
    {"POST", "documents/*/convert", api_doc_convert, WEB_R_JSON},
    {"GET", "documents/*/attachments", api_attachments_list, 0},
    {"POST", "documents/*/attachments", api_attachment_upload, WEB_R_FILE},

    {"GET", "actions", api_actions_list, 0},
    {"POST", "actions", api_action_create, WEB_R_JSON},
    {"GET", "actions/*", api_action_get, 0},
    {"PATCH", "actions/*", api_action_edit, WEB_R_JSON},
    {"DELETE", "actions/*", api_action_delete, 0},
    {"GET", "actions/*/attachments", api_attachments_list, 0},
    {"POST", "actions/*/attachments", api_attachment_upload, WEB_R_FILE},

    {"GET", "attachments/*", api_attachment_get, 0},
    {"DELETE", "attachments/*", api_attachment_delete, 0},
    {"GET", "attachments/*/content", api_attachment_content, 0},

    {"GET", "reminders/due", api_reminders_due, 0},
    {"GET", "reminders", api_reminders_list, 0},
    {"POST", "reminders", api_reminder_create, WEB_R_JSON},
    {"GET", "reminders/*", api_reminder_get, 0},
    {"PATCH", "reminders/*", api_reminder_edit, WEB_R_JSON},
    {"DELETE", "reminders/*", api_reminder_delete, 0},

    {"GET", "duplicates", api_dupes_list, 0},
    {"GET", "duplicates/review", api_dupes_review, 0},
    {"POST", "duplicates/dismiss", api_dupes_dismiss, WEB_R_JSON},
    {"POST", "duplicates/set-aside", api_dupes_set_aside, WEB_R_JSON},
    {"POST", "merge", api_merge, WEB_R_JSON},
    {"POST", "unmerge", api_unmerge, WEB_R_JSON},

    {"POST", "import", api_import, WEB_R_UPLOAD},
    {"GET", "export", api_export, 0},

    {"GET", "peers", api_peers, 0},
    {"POST", "invite", api_invite, WEB_R_JSON},

    {"GET", "erasures", api_erasures, 0},
};

#define NROUTES (sizeof routes / sizeof routes[0])

/* Does the pattern match the segments? "*" matches any one segment. */
static bool path_matches(const char *pattern, char *const *seg, size_t nseg) {
  size_t i = 0;
  const char *p = pattern;
  while (*p) {
    size_t len = strcspn(p, "/");
    if (i >= nseg) return false;
    if (!(len == 1 && p[0] == '*') && (strlen(seg[i]) != len || strncmp(p, seg[i], len) != 0))
      return false;
    i++;
    p += len;
    if (*p == '/') p++;
  }
  return i == nseg;
}

const web_route *web_route_find(const char *method, char *const *seg, size_t nseg, char *allow,
                                size_t allow_len) {
  allow[0] = '\0';
  for (size_t i = 0; i < NROUTES; i++) {
    if (!path_matches(routes[i].pattern, seg, nseg)) continue;
    if (strcmp(routes[i].method, method) == 0) return &routes[i];
    /* The methods of every route whose path matches, for the 405's
     * Allow header. */
    if (strstr(allow, routes[i].method) == NULL) {
      size_t used = strlen(allow);
      snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", routes[i].method);
    }
  }
  return NULL;
}
