/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "whip_endpoint.h"
#include "http_reply.h"
#include "whip_offer.h"

#include <json-glib/json-glib.h>

namespace wsrtmp {

namespace {

/* Larger offers are refused (413): a browser's is about 5 KiB. */
constexpr goffset MAX_BODY = 64 * 1024;
/* Offers from one address waiting for their answer (ICE gathering). */
constexpr int MAX_PENDING_PER_PEER = 4;
/* A refused key or token is told after this pause (against guessing). */
constexpr guint REFUSAL_PAUSE_MS = 500;
/* RFC 6585, which libsoup 3.2 has no name for. */
constexpr guint HTTP_TOO_MANY_REQUESTS = 429;

using MessageRef = std::shared_ptr<SoupServerMessage>;

MessageRef
hold (SoupServerMessage *msg)
{
  return MessageRef (SOUP_SERVER_MESSAGE (g_object_ref (msg)),
      g_object_unref);
}

/* The HTTP status for an admission refusal's kind. */
guint
status_for (const std::string &kind)
{
  if (kind == "per_ip")
    return HTTP_TOO_MANY_REQUESTS;
  if (kind == "capacity" || kind == "shutdown")
    return SOUP_STATUS_SERVICE_UNAVAILABLE;
  return SOUP_STATUS_FORBIDDEN;
}

/* The media type without parameters, lower case ("" when none). */
std::string
media_type (SoupServerMessage *msg)
{
  const char *type = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (msg), nullptr);
  if (!type)
    return "";
  g_autofree char *lower = g_ascii_strdown (type, -1);
  return lower;
}

/* An ICE server option as a WHIP Link (RFC 9725, 4.6). */
std::string
ice_server_link (const std::string &url)
{
  g_autoptr (GUri) uri = g_uri_parse (url.c_str (), G_URI_FLAGS_HAS_PASSWORD,
      nullptr);
  if (!uri)
    return "";
  std::string scheme = g_uri_get_scheme (uri);
  std::string link = "<" + scheme + ":" + g_uri_get_host (uri) + ":" +
      std::to_string (g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) :
          scheme == "turns" ? 5349 : 3478) + ">; rel=\"ice-server\"";
  if (const char *user = g_uri_get_user (uri)) {
    const char *password = g_uri_get_password (uri);
    link += std::string ("; username=\"") + user + "\"; credential=\"" +
        (password ? password : "") + "\"; credential-type=\"password\"";
  }
  return link;
}

}  // namespace

WhipEndpoint::WhipEndpoint (const Config &config,
    const PipelineFactory &factory, Metrics &metrics, Host &host)
    : config_ (config), factory_ (factory), metrics_ (metrics), host_ (host),
      available_ ([] {
        for (const char *name : { "webrtcbin", "nicesrc", "nicesink",
                "rtph264depay", "rtpopusdepay", "matroskamux" }) {
          g_autoptr (GstElementFactory) found = gst_element_factory_find (
              name);
          if (!found)
            return false;
        }
        return true;
      } ())
{
}

WhipEndpoint::~WhipEndpoint ()
{
  if (reap_idle_)
    g_source_remove (reap_idle_);
  /* The Server cancelled the hook's requests first (its destructor). */
  for (auto &[msg, held] : held_for_hook_) {
    g_signal_handlers_disconnect_by_func (msg,
        reinterpret_cast<gpointer> (&WhipEndpoint::on_held_finished), this);
    g_object_unref (msg);
  }
  finished_.clear ();
  inputs_.clear ();
}

void
WhipEndpoint::add_routes (SoupServer *soup)
{
  soup_server_add_handler (soup, WHIP_PATH, &WhipEndpoint::on_request, this,
      nullptr);
}

std::string
WhipEndpoint::link_header () const
{
  std::string links;
  std::vector<std::string> servers = config_.turn_servers;
  if (!config_.stun_server.empty ())
    servers.insert (servers.begin (), config_.stun_server);
  for (const auto &server : servers) {
    std::string link = ice_server_link (server);
    if (!link.empty ())
      links += (links.empty () ? "" : ", ") + link;
  }
  return links;
}

/* Studio pages live on other origins: every answer says who may read it. */
void
WhipEndpoint::add_cors (SoupServerMessage *msg) const
{
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (
      msg);
  const char *origin = soup_message_headers_get_one (request, "Origin");
  if (config_.allowed_origins.empty ())
    soup_message_headers_replace (headers, "Access-Control-Allow-Origin",
        "*");
  else if (origin && config_.origin_allowed (origin)) {
    soup_message_headers_replace (headers, "Access-Control-Allow-Origin",
        origin);
    soup_message_headers_replace (headers, "Vary", "Origin");
  }
  soup_message_headers_replace (headers, "Access-Control-Allow-Methods",
      "GET, POST, PATCH, DELETE, OPTIONS");
  soup_message_headers_replace (headers, "Access-Control-Allow-Headers",
      "Authorization, Content-Type, If-Match");
  soup_message_headers_replace (headers, "Access-Control-Expose-Headers",
      "Location, ETag, Link, Accept-Patch");
  std::string links = link_header ();
  if (!links.empty ())
    soup_message_headers_replace (headers, "Link", links.c_str ());
}

void
WhipEndpoint::on_request (SoupServer *, SoupServerMessage *msg,
    const char *path, GHashTable *, gpointer data)
{
  auto *self = static_cast<WhipEndpoint *> (data);
  self->add_cors (msg);
  const char *method = soup_server_message_get_method (msg);
  if (method == SOUP_METHOD_OPTIONS) {
    soup_message_headers_replace (soup_server_message_get_response_headers (
            msg), "Accept-Post", "application/sdp");
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, nullptr);
    return;
  }
  if (g_str_equal (path, WHIP_PATH)) {
    if (method != SOUP_METHOD_POST) {
      soup_message_headers_replace (soup_server_message_get_response_headers (
              msg), "Allow", "POST, OPTIONS");
      send_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "input",
          "POST an SDP offer to /whip");
      return;
    }
    self->handle_post (msg);
    return;
  }
  std::string prefix = std::string (WHIP_PATH) + "/";
  if (!g_str_has_prefix (path, prefix.c_str ())) {
    send_error (msg, SOUP_STATUS_NOT_FOUND, "input", "no such WHIP session");
    return;
  }
  self->handle_resource (msg, path + prefix.size ());
}

/* Answers after delay_ms (the message paused meanwhile). */
void
WhipEndpoint::answer_later (SoupServerMessage *msg, guint status,
    const std::string &kind, const std::string &message, guint delay_ms)
{
  soup_server_message_pause (msg);
  struct Later {
    MessageRef msg;
    guint status;
    std::string body;
  };
  g_timeout_add_full (G_PRIORITY_DEFAULT, delay_ms, [] (gpointer data) {
        auto *later = static_cast<Later *> (data);
        send_text (later->msg.get (), later->status, "application/json",
            later->body);
        soup_server_message_unpause (later->msg.get ());
        return G_SOURCE_REMOVE;
      }, new Later { hold (msg), status, error_body (kind, message) },
      delete_data<Later>);
}

void
WhipEndpoint::handle_post (SoupServerMessage *msg)
{
  if (!available_) {
    send_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "pipeline",
        "WHIP needs webrtcbin and libnice's elements (gstreamer1.0-nice)");
    return;
  }
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  if (body->length > MAX_BODY) {
    send_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_big",
        "an offer is at most 64 KiB");
    return;
  }
  const char *authorization = soup_message_headers_get_one (request,
      "Authorization");
  if (!authorization || g_ascii_strncasecmp (authorization, "Bearer ", 7) ||
      !authorization[7]) {
    soup_message_headers_replace (soup_server_message_get_response_headers (
            msg), "WWW-Authenticate", "Bearer");
    send_error (msg, SOUP_STATUS_UNAUTHORIZED, "key", "Authorization: Bearer "
        "<stream key> (or <stream key>?token=<token>) required");
    return;
  }
  if (media_type (msg) != "application/sdp") {
    send_error (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "input",
        "the offer's Content-Type is application/sdp");
    return;
  }
  const std::string peer = host_.client_of (msg);
  AdmissionRequest admission_request;
  admission_request.whip = true;
  admission_request.bearer = authorization + 7;
  const char *origin = soup_message_headers_get_one (request, "Origin");
  admission_request.has_origin = origin != nullptr;
  admission_request.origin = origin ? origin : "";
  admission_request.now_us = g_get_real_time ();
  admission_request.now_s = admission_request.now_us / G_USEC_PER_SEC;
  AdmissionState state = host_.admission_state (peer);
  auto pending = pending_per_peer_.find (peer);
  int pending_count = pending == pending_per_peer_.end () ? 0 :
      pending->second;
  Admission admission = admit (config_, admission_request, state);
  const std::string &key = admission.key;
  std::string masked = mask_key (admission.key_known ? key : "");
  if (admission.verdict == Admission::Verdict::Refuse) {
    const Failure &refusal = admission.refusal;
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
        "STREAM_KEY", masked.c_str (),
        "MESSAGE", "refused WHIP client %s [%s]: %s (%s)", peer.c_str (),
        masked.c_str (), refusal.reason.c_str (), refusal.kind.c_str ());
    metrics_.session_refused (refusal.kind);
    guint status = status_for (refusal.kind);
    bool guessing = refusal.kind == "key" || refusal.kind == "token";
    answer_later (msg, status, refusal.kind, refusal.reason,
        guessing ? REFUSAL_PAUSE_MS : 0);
    return;
  }
  if (pending_count >= MAX_PENDING_PER_PEER) {
    send_error (msg, HTTP_TOO_MANY_REQUESTS, "per_ip",
        "too many offers waiting for their answer from your address");
    return;
  }
  std::string offer_text (body->data ? body->data : "", body->length);
  WhipOffer offer;
  std::string why;
  if (!read_whip_offer (offer_text, offer, why)) {
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
        "STREAM_KEY", masked.c_str (),
        "MESSAGE", "refused WHIP client %s [%s]: %s", peer.c_str (),
        masked.c_str (), why.c_str ());
    send_error (msg, SOUP_STATUS_BAD_REQUEST, "input", why);
    return;
  }

  soup_server_message_pause (msg);
  if (!host_.has_publish_hook ()) {
    publish (msg, peer, admission, admission_request.bearer, offer_text,
        nullptr);
    return;
  }
  /* The hook decides; the POST waits (and counts as pending). */
  PublishRequest hook_request;
  hook_request.key = key;
  hook_request.transport = "whip";
  hook_request.client = peer;
  const char *agent = soup_message_headers_get_one (request, "User-Agent");
  hook_request.user_agent = agent ? agent : "";
  hook_request.origin = admission_request.origin;
  pending_per_peer_[peer]++;
  g_object_ref (msg);
  g_signal_connect (msg, "finished",
      G_CALLBACK (&WhipEndpoint::on_held_finished), this);
  guint64 hook_id = host_.ask_publish_hook (hook_request,
      [this, msg, peer, admission_request, offer_text] (
          const PublishVerdict &verdict) {
        hook_answered (msg, peer, admission_request, offer_text, verdict);
      });
  held_for_hook_[msg] = HeldPost { hook_id, peer };
}

/* The sender went away while its POST was held for the hook. */
void
WhipEndpoint::on_held_finished (SoupServerMessage *msg, gpointer data)
{
  auto *self = static_cast<WhipEndpoint *> (data);
  auto found = self->held_for_hook_.find (msg);
  if (found == self->held_for_hook_.end ())
    return;
  self->host_.cancel_publish_hook (found->second.hook_id);
  const std::string peer = found->second.peer;
  self->held_for_hook_.erase (found);
  auto count = self->pending_per_peer_.find (peer);
  if (count != self->pending_per_peer_.end () && --count->second <= 0)
    self->pending_per_peer_.erase (count);
  g_signal_handlers_disconnect_by_func (msg,
      reinterpret_cast<gpointer> (&WhipEndpoint::on_held_finished), self);
  g_object_unref (msg);
}

void
WhipEndpoint::hook_answered (SoupServerMessage *msg, const std::string &peer,
    const AdmissionRequest &request, const std::string &offer,
    const PublishVerdict &verdict)
{
  held_for_hook_.erase (msg);
  g_signal_handlers_disconnect_by_func (msg,
      reinterpret_cast<gpointer> (&WhipEndpoint::on_held_finished), this);
  MessageRef held (msg, g_object_unref);  /* the reference taken to hold */
  auto count = pending_per_peer_.find (peer);
  if (count != pending_per_peer_.end () && --count->second <= 0)
    pending_per_peer_.erase (count);
  if (!verdict.allowed) {
    metrics_.session_refused ("refused");
    send_error (msg, SOUP_STATUS_FORBIDDEN, "refused", verdict.reason);
    soup_server_message_unpause (msg);
    return;
  }
  /* Admitted again: a ban, capacity or the key's broadcast may have
   * changed while the hook took its time. */
  Admission admission = admit (config_, request, host_.admission_state (
          peer));
  if (admission.verdict == Admission::Verdict::Refuse) {
    metrics_.session_refused (admission.refusal.kind);
    send_error (msg, status_for (admission.refusal.kind),
        admission.refusal.kind, admission.refusal.reason);
    soup_server_message_unpause (msg);
    return;
  }
  publish (msg, peer, admission, request.bearer, offer, &verdict);
}

void
WhipEndpoint::publish (SoupServerMessage *msg, const std::string &peer,
    const Admission &admission, const std::string &bearer,
    const std::string &offer_text, const PublishVerdict *verdict)
{
  const std::string &key = admission.key;
  /* Admitted, with an offer we can answer: the older inputs for the key
   * give way, and the broadcast is joined or started. */
  host_.take_over (key);
  bool resumed = false;
  Failure failure;
  std::string detail;
  Broadcast *broadcast = host_.place (admission, verdict, resumed, failure,
      detail);
  if (!broadcast) {
    send_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, failure.kind,
        failure.reason);
    soup_server_message_unpause (msg);
    return;
  }
  guint64 id = next_id_++;
  g_autofree char *resource_id = g_uuid_string_random ();
  g_autofree char *etag_id = g_uuid_string_random ();
  std::string resource = resource_id;
  std::string etag = std::string ("\"") + etag_id + "\"";
  auto input = std::make_unique<WhipInput> (id, key, peer, config_, factory_,
      metrics_, [this] (WhipInput *finished) { input_finished (finished); });
  WhipInput *raw = input.get ();
  inputs_.emplace (id, std::move (input));
  resources_[resource] = Resource { id, bearer };
  host_.input_began (peer);
  pending_per_peer_[peer]++;

  MessageRef held = hold (msg);
  raw->start (broadcast, resumed, offer_text,
      [this, held, peer, resource, etag] (const std::string &answer,
          const std::string &error) {
        auto count = pending_per_peer_.find (peer);
        if (count != pending_per_peer_.end () && --count->second <= 0)
          pending_per_peer_.erase (count);
        SoupServerMessage *msg = held.get ();
        if (answer.empty ()) {
          resources_.erase (resource);
          send_error (msg, SOUP_STATUS_BAD_REQUEST, "input",
              "cannot answer the offer: " + error);
        } else {
          SoupMessageHeaders *headers =
              soup_server_message_get_response_headers (msg);
          std::string location = std::string (WHIP_PATH) + "/" + resource;
          soup_message_headers_replace (headers, "Location",
              location.c_str ());
          soup_message_headers_replace (headers, "ETag", etag.c_str ());
          soup_message_headers_replace (headers, "Accept-Patch",
              "application/trickle-ice-sdpfrag");
          send_text (msg, SOUP_STATUS_CREATED, "application/sdp", answer);
        }
        soup_server_message_unpause (msg);
      });
}

void
WhipEndpoint::handle_resource (SoupServerMessage *msg, const std::string &id)
{
  const char *method = soup_server_message_get_method (msg);
  auto found = resources_.find (id);
  auto input = found == resources_.end () ? inputs_.end () :
      inputs_.find (found->second.input_id);
  if (input == inputs_.end ()) {
    send_error (msg, SOUP_STATUS_NOT_FOUND, "input", "no such WHIP session");
    return;
  }
  if (method == SOUP_METHOD_DELETE) {
    resources_.erase (found);
    input->second->stop ();
    soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
    return;
  }
  if (method == SOUP_METHOD_GET) {
    answer_status (msg, found->second, *input->second);
    return;
  }
  if (!g_str_equal (method, "PATCH")) {
    soup_message_headers_replace (soup_server_message_get_response_headers (
            msg), "Allow", "GET, PATCH, DELETE, OPTIONS");
    send_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "input",
        "GET (status), PATCH (trickle) or DELETE a WHIP session");
    return;
  }
  if (media_type (msg) != "application/trickle-ice-sdpfrag") {
    send_error (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "input",
        "trickle is application/trickle-ice-sdpfrag");
    return;
  }
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  if (body->length > MAX_BODY) {
    send_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_big",
        "a fragment is at most 64 KiB");
    return;
  }
  std::string fragment (body->data ? body->data : "", body->length);
  /* An ICE restart (If-Match: *, or new credentials) is not taken yet:
   * 405, which WHIP clients take for "not supported". */
  const char *match = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "If-Match");
  std::string ufrag = trickle_ufrag (fragment);
  if ((match && g_str_equal (match, "*")) || (!ufrag.empty () &&
          ufrag != input->second->ice_ufrag ())) {
    soup_message_headers_replace (soup_server_message_get_response_headers (
            msg), "Allow", "GET, PATCH, DELETE, OPTIONS");
    send_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "input",
        "ICE restart is not supported: POST a new offer");
    return;
  }
  std::string why;
  /* A fragment without candidates (end-of-candidates) is fine too. */
  input->second->add_candidates (fragment, why);
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, nullptr);
}

/* The session's status: for its sender only (the Location is no secret:
 * it may land in logs), so with the POST's own bearer. */
void
WhipEndpoint::answer_status (SoupServerMessage *msg, const Resource &resource,
    const WhipInput &input)
{
  const char *authorization = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Authorization");
  if (!authorization || g_ascii_strncasecmp (authorization, "Bearer ", 7) ||
      resource.bearer != authorization + 7) {
    soup_message_headers_replace (soup_server_message_get_response_headers (
            msg), "WWW-Authenticate", "Bearer");
    send_error (msg, SOUP_STATUS_UNAUTHORIZED, "key",
        "the session's status needs the bearer it was published with");
    return;
  }
  g_autoptr (JsonNode) status = input.status ();
  g_autofree char *text = json_to_string (status, FALSE);
  soup_message_headers_replace (soup_server_message_get_response_headers (
          msg), "Cache-Control", "no-store");
  send_text (msg, SOUP_STATUS_OK, "application/json",
      std::string (text) + "\n");
}

std::vector<InputView>
WhipEndpoint::inputs_of (const Broadcast *broadcast) const
{
  std::vector<InputView> inputs;
  for (const auto &[id, input] : inputs_) {
    if (input->broadcast () == broadcast)
      inputs.push_back ({ "whip", input->peer (), input->connected_unix_us (),
          input->state_word (), input->output_mode (),
          input->bitrate_kbps () });
  }
  return inputs;
}

void
WhipEndpoint::replace (const std::string &key)
{
  for (auto &[id, input] : inputs_) {
    if (input->key () == key)
      input->replace ();
  }
}

void
WhipEndpoint::kick (const std::string &key, const std::string &reason)
{
  for (auto &[id, input] : inputs_) {
    if (input->key () == key)
      input->kick (reason);
  }
}

void
WhipEndpoint::shutdown ()
{
  for (auto &[id, input] : inputs_)
    input->finish ();
}

void
WhipEndpoint::input_finished (WhipInput *input)
{
  auto found = inputs_.find (input->id ());
  if (found == inputs_.end ())
    return;
  for (auto resource = resources_.begin (); resource != resources_.end ();) {
    if (resource->second.input_id == input->id ())
      resource = resources_.erase (resource);
    else
      ++resource;
  }
  /* Destroyed from our own idle: its callback is on the stack now. */
  finished_.push_back (std::move (found->second));
  inputs_.erase (found);
  if (!reap_idle_)
    reap_idle_ = g_idle_add (&WhipEndpoint::on_reap_idle, this);
}

gboolean
WhipEndpoint::on_reap_idle (gpointer data)
{
  auto *self = static_cast<WhipEndpoint *> (data);
  self->reap_idle_ = 0;
  std::vector<std::string> peers;
  for (const auto &input : self->finished_)
    peers.push_back (input->peer ());
  self->finished_.clear ();
  for (const auto &peer : peers)
    self->host_.input_finished (peer);
  return G_SOURCE_REMOVE;
}

}  // namespace wsrtmp
