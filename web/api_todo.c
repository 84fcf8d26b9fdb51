/* web/api_todo.c - endpoints not written yet: 501. */
#include "routes.h"

void api_docs_list(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_create(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_get(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_edit(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_delete(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_line_add(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_line_edit(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_line_remove(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_line_move(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_validate(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_status(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_doc_convert(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_actions_list(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_action_create(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_action_get(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_action_edit(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_action_delete(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_reminders_due(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_reminders_list(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_reminder_create(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_reminder_get(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_reminder_edit(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_reminder_delete(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_history(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_dupes_list(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_dupes_review(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_merge(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_unmerge(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_dupes_dismiss(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_dupes_set_aside(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_erase(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_erasures(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_subject_export(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_import(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
void api_export(carnet_replica *r, web_req *q) {
  (void)r;
  web_error(q, 501, CARNET_EINVAL, NULL, "not implemented yet");
}
