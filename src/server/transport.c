/* The transport: libwebsockets' callback for HTTP and WebSocket, HTTP answers (headers,
 * keep-alive, the body limit), WebSocket frames in and out, and back-pressure (a client that
 * reads slowly pauses its runs' output). What the bytes mean is the dialects' business. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server-internal.h"

void conn_pause(conn_t *c, bool paused)
{
        if (c->paused == paused)
                return;
        c->paused = paused;
        for (run_t *r = c->runs; r; r = r->next)
                if (r->job)
                        job_pause_output(r->job, paused);
}

/* The server's own errors (routing, access, size) in runcell's shape. */
static void http_error(http_req_t *h, int status, const char *code, const char *msg)
{
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        dl_http_json(h, status, o);
}

static int http_writeable(struct lws *wsi, http_req_t *h)
{
        if (!h->resp)
                return 0;
        if (!h->headers_sent) {
                unsigned char hdr[LWS_PRE + 2048];
                unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
                if (lws_add_http_common_headers(wsi, (unsigned)h->status, h->ctype, h->resp_len, &p,
                                                end))
                        return -1;
                /* RFC 9112 9.6: a server that will close after the answer says so */
                char ka[32];
                int kal = snprintf(ka, sizeof(ka), "timeout=%d", HTTP_KEEPALIVE_S);
                if (h->conn == CONN_CLOSE &&
                    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                                 (const unsigned char *)"close", 5, &p, end))
                        return -1;
                if (h->conn == CONN_KEEP_10 &&
                    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                                 (const unsigned char *)"keep-alive", 10, &p, end))
                        return -1;
                if ((h->conn == CONN_KEEP || h->conn == CONN_KEEP_10) &&
                    lws_add_http_header_by_name(wsi, (const unsigned char *)"keep-alive:",
                                                (const unsigned char *)ka, kal, &p, end))
                        return -1;
                /* no answer of the API is to be read as anything but its content type (a
                 * program's output in JSON never becomes a page) */
                bool nosniff = false;
                for (int i = 0; i < h->nheaders; i++)
                        nosniff |= strcasecmp(h->hname[i], "x-content-type-options:") == 0;
                if (!nosniff && lws_add_http_header_by_name(
                                    wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end))
                        return -1;
                for (int i = 0; i < h->nheaders; i++)
                        if (lws_add_http_header_by_name(wsi, (const unsigned char *)h->hname[i],
                                                        (const unsigned char *)h->hvalue[i],
                                                        (int)strlen(h->hvalue[i]), &p, end))
                                return -1;
                if (lws_finalize_http_header(wsi, &p, end))
                        return -1;
                size_t hlen = (size_t)(p - start);
                h->headers_sent = true;
                bool body = h->method != DL_HEAD && h->resp_len > 0;
                /* HTTP/1.1: the headers and the body in one write, so the client is woken once
                 * and loopback carries one segment (two sends cost a small answer ~0.3 ms
                 * here). An HTTP/2 stream's headers go in a frame of their own. */
                if (body && lws_get_network_wsi(wsi) == wsi &&
                    hlen + h->resp_len <= (size_t)(end - start)) {
                        memcpy(p, h->resp + LWS_PRE, h->resp_len);
                        size_t all = hlen + h->resp_len;
                        free(h->resp);
                        h->resp = NULL;
                        return lws_write(wsi, start, all, LWS_WRITE_HTTP_FINAL) == (int)all ? 1
                                                                                            : -1;
                }
                if (body && lws_get_network_wsi(wsi) == wsi) {
                        unsigned char *b = malloc(LWS_PRE + hlen + h->resp_len);
                        if (b) {
                                memcpy(b + LWS_PRE, start, hlen);
                                memcpy(b + LWS_PRE + hlen, h->resp + LWS_PRE, h->resp_len);
                                size_t all = hlen + h->resp_len;
                                int n = lws_write(wsi, b + LWS_PRE, all, LWS_WRITE_HTTP_FINAL);
                                free(b);
                                free(h->resp);
                                h->resp = NULL;
                                return n == (int)all ? 1 : -1;
                        }
                }
                if (lws_write(wsi, start, hlen, LWS_WRITE_HTTP_HEADERS) != (int)hlen)
                        return -1;
                if (!body) {
                        free(h->resp);
                        h->resp = NULL;
                        return 1;
                }
                /* the body at once when the socket takes it: a turn of lws' poll() less (a
                 * pass over every descriptor: ~5 ms with 20,000 connections) */
                if (lws_send_pipe_choked(wsi)) {
                        lws_callback_on_writable(wsi);
                        return 0;
                }
        }
        if (lws_write(wsi, (unsigned char *)h->resp + LWS_PRE, h->resp_len, LWS_WRITE_HTTP_FINAL) !=
            (int)h->resp_len)
                return -1;
        free(h->resp);
        h->resp = NULL;
        return 1; /* answered: the caller ends the transaction */
}

static void http_dispatch(http_req_t *h)
{
        const route_t *rt = h->route;
        if (!rt->d->http) {
                http_error(h, 405, "method_not_allowed", "wrong method for this path");
                return;
        }
        rt->d->http(h, rt->tag, h->method, h->body.data ? h->body.data : "", h->body.len);
        if (!h->answered && !h->run && !h->fn_deploy)
                http_error(h, 500, "internal", "the request was not answered");
}

/* The body is over the size limit: the route's dialect answers in its own shape. */
static void http_too_large(http_req_t *h)
{
        h->too_large = true;
        buf_free(&h->body);
        if (h->route && h->route->d->http_too_large)
                h->route->d->http_too_large(h, h->route->tag);
        if (!h->answered)
                http_error(h, 413, "too_large", "the body is over the size limit");
}

static dl_method_t http_method(struct lws *wsi)
{
        if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
                return DL_POST;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0)
                return DL_HEAD;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0)
                return DL_OPTIONS;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
                return DL_GET;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0)
                return DL_PUT;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0)
                return DL_DELETE;
        return 0;
}

/* ------------------------------------------------------------------ the lws callback */

/* The server's idle timeout (ws_idle_s): a WebSocket with no run that has sent nothing, not
 * even a pong to the pings sent after half that time, is closed; a live client answers the
 * pings and stays. */
static void on_srv_idle(lws_sorted_usec_list_t *sul)
{
        conn_t *c = lws_container_of(sul, conn_t, srv_idle);
        int64_t idle_ms = (int64_t)c->srv->opts->ws_idle_s * 1000, now = dl_now_ms();
        int64_t quiet = now - c->last_rx_ms, next;
        if (c->runs || c->closing) {
                next = idle_ms / 2;
        } else if (quiet >= idle_ms) {
                dl_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "idle");
                return;
        } else if (quiet >= idle_ms / 2) {
                c->want_ping = true;
                lws_callback_on_writable(c->wsi);
                next = idle_ms - quiet;
        } else {
                next = idle_ms / 2 - quiet;
        }
        lws_sul_schedule(lws_get_context(c->wsi), 0, &c->srv_idle, on_srv_idle,
                         (next > 0 ? next : 1) * 1000);
}

static void conn_free(conn_t *c)
{
        lws_sul_cancel(&c->srv_idle);
        lws_sul_cancel(&c->idle);
        lws_sul_cancel(&c->deadline);
        while (c->runs)
                run_orphan(c->runs);
        fn_deploys_conn_gone(c->srv, c);
        if (c->d->ws_close)
                c->d->ws_close(c);
        for (frame_t *f = c->head; f;) {
                frame_t *n = f->next;
                free(f);
                f = n;
        }
        buf_free(&c->rx);
        free(c->data);
        cfg_release(c->cfg);
        free(c);
}

static void http_free(http_req_t *h)
{
        if (h->run)
                run_orphan(h->run);
        fn_deploy_orphan(h->fn_deploy);
        buf_free(&h->body);
        free(h->resp);
        for (int i = 0; i < h->nheaders; i++) {
                free(h->hname[i]);
                free(h->hvalue[i]);
        }
        cfg_release(h->cfg);
        free(h);
}

/* What lws will do with the connection after this request's answer (its own rule, in
 * lws_http_action): HTTP/1.1 keeps it unless "Connection: close", HTTP/1.0 closes it unless
 * "Connection: keep-alive"; HTTP/2 has no connection headers (CONN_UNSAID). */
static int conn_after(struct lws *wsi)
{
        char v[12], c[25];
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP) <= 7 ||
            lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP) <= 7 || strncmp(v, "HTTP/", 5) != 0)
                return CONN_UNSAID;
        bool keep = v[5] == '1' && v[7] == '1';
        if (lws_hdr_total_length(wsi, WSI_TOKEN_CONNECTION) &&
            lws_hdr_copy(wsi, c, sizeof(c), WSI_TOKEN_CONNECTION) > 0) {
                if (!strcasecmp(c, "keep-alive"))
                        keep = true;
                else if (!strcasecmp(c, "close"))
                        keep = false;
        }
        return !keep ? CONN_CLOSE : v[7] == '0' ? CONN_KEEP_10 : CONN_KEEP;
}

/* Request framing (RFC 9112 6.1-6.3): Content-Length together with Transfer-Encoding, more
 * than one Content-Length or a malformed one is refused (400) rather than guessed at, since a
 * proxy in front may have read the body the other way (request smuggling); a chunked body is
 * answered 411 (lws 4.1 does not decode chunked requests and would wait for a body that never
 * ends). 0: the framing is fine. */
static int check_framing(struct lws *wsi, const char **code, const char **msg)
{
        int te = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING);
        int cl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
        if (te > 0 && cl > 0) {
                *code = "bad_framing";
                *msg = "Content-Length together with Transfer-Encoding is refused";
                return 400;
        }
        if (te > 0) {
                *code = "length_required";
                *msg = "a chunked (Transfer-Encoding) body is not accepted: send Content-Length";
                return 411;
        }
        if (cl > 0) {
                char v[24];
                int n = lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH);
                /* lws joins repeated headers with ',': "5,10" */
                if (n <= 0 || n > 19 || strspn(v, "0123456789") != (size_t)n) {
                        *code = "bad_framing";
                        *msg = "one Content-Length, a decimal number, is required";
                        return 400;
                }
        }
        return 0;
}

static int on_http(server_t *srv, pss_t *pss, struct lws *wsi, const char *path)
{
        if (pss->http) { /* an unanswered request on this connection */
                http_free(pss->http);
                pss->http = NULL;
        }
        http_req_t *h = calloc(1, sizeof(*h));
        if (!h)
                return -1;
        h->srv = srv;
        h->cfg = cfg_hold(srv->cfg); /* what check_access checks against, below */
        h->wsi = wsi;
        h->method = http_method(wsi);
        h->conn = conn_after(wsi);
        conns_client(srv, wsi, h->client, sizeof(h->client)); /* for limits and the log */
        pss->http = h;
        bool post = h->method == DL_POST || h->method == DL_PUT; /* a body comes */
        if (post)
                h->too_large = true; /* the body is ignored unless a route wants it */
        else
                /* No body is coming: lws' timer for one (PENDING_TIMEOUT_HTTP_CONTENT, 5 s
                 * from the headers) would run until the answer is written, and close the
                 * connection without a response if the event loop was held up that long. The
                 * answer is ours to give; once it is out, lws_http_transaction_completed sets
                 * the keep-alive timer. */
                lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        const char *fcode = NULL, *fmsg = NULL;
        int bad = check_framing(wsi, &fcode, &fmsg);
        if (bad) {
                h->conn = CONN_CLOSE; /* where this request's body ends is not known */
                h->too_large = true;
                http_error(h, bad, fcode, fmsg);
                return 0;
        }
        bool close_after = false;
        const char *ccode = NULL;
        int full = conns_request(srv, wsi, path, false, &ccode, &close_after);
        if (close_after)
                h->conn = CONN_CLOSE;
        if (full) {
                h->conn = CONN_CLOSE;
                h->too_large = true;
                http_error(h, full, ccode, "the server has no room for another connection");
                return 0;
        }
        char origin[256];
        if (srv->opts->origins.n &&
            lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0 &&
            origin_allowed(srv->opts, origin)) {
                /* a browser page of an allowed origin may read the answers (CORS) */
                dl_http_header(h, "access-control-allow-origin:", origin);
                dl_http_header(h, "vary:", "Origin");
        }
        const char *code = NULL;
        int denied = strcmp(path, "/healthz") == 0 || h->method == DL_OPTIONS
                         ? 0
                         : check_access(srv, wsi, false, path, &code, &h->token, &h->anon);
        if (denied) {
                http_error(h, denied, code,
                           denied == 401 ? "a valid bearer token is required"
                                         : "this origin is not allowed");
                return 0;
        }
        bool known = false;
        const route_t *rt = find_route(srv, path, h->method, &known);
        if (rt && route_wild(rt))
                snprintf(h->path_arg, sizeof(h->path_arg), "%s", path + route_arg_offset(rt));
        if (rt && token_scoped(srv->opts, h->token) && strcmp(rt->d->name, "functions") != 0 &&
            !(strcmp(rt->d->name, "runcell") == 0 && h->method == DL_POST)) {
                /* a token for invoking functions: the functions' routes and runs only */
                http_error(h, 403, "forbidden", "this token may only invoke its functions");
                return 0;
        }
        if (h->method == DL_OPTIONS && (known || strcmp(path, "/healthz") == 0)) {
                /* a CORS preflight */
                dl_http_header(
                    h, "access-control-allow-methods:", "GET, POST, PUT, DELETE, HEAD, OPTIONS");
                dl_http_header(h, "access-control-allow-headers:",
                               "authorization, x-auth-token, content-type, accept");
                dl_http_header(h, "access-control-max-age:", "600");
                dl_http_text(h, 204, "text/plain", "", 0);
                return 0;
        }
        if ((h->method == DL_GET || h->method == DL_HEAD) && strcmp(path, "/metrics") == 0) {
                buf_t b = {0};
                metrics_text(srv, &b);
                dl_http_text(h, 200, "text/plain; version=0.0.4", b.data, b.len);
                buf_free(&b);
        } else if ((h->method == DL_GET || h->method == DL_HEAD) && strcmp(path, "/healthz") == 0) {
                /* from SIGTERM on: 503, so that a load balancer sends no new work here while
                 * the runs going finish (docs/DEPLOY.md) */
                bool draining = srv->draining || stop_requested;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "status", draining ? "draining" : "ok");
                if (draining)
                        dl_http_header(h, "retry-after:", "1");
                dl_http_json(h, draining ? 503 : 200, o);
        } else if (rt && post) {
                h->route = rt;
                h->too_large = false;
                char cl[32];
                if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                    strtoull(cl, NULL, 10) > srv->opts->message_max)
                        http_too_large(h);
                return 0; /* the body follows */
        } else if (rt) {
                h->route = rt;
                http_dispatch(h);
        } else if (known || strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0) {
                http_error(h, 405, "method_not_allowed", "wrong method for this path");
        } else {
                http_error(h, 404, "not_found", "no such path");
        }
        return 0;
}

static int on_ws_established(server_t *srv, pss_t *pss, struct lws *wsi)
{
        char uri[160];
        if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
                return -1;
        bool known;
        const route_t *rt = find_route(srv, uri, DL_WS, &known);
        if (!rt || pss->gen != srv->cfg->gen) /* a reload since the handshake's checks */
                return -1;
        conn_t *c = calloc(1, sizeof(*c));
        if (!c || !(c->data = calloc(1, rt->d->conn_size ? rt->d->conn_size : 1))) {
                free(c);
                return -1;
        }
        c->srv = srv;
        c->wsi = wsi;
        c->d = rt->d;
        c->di = rt->di;
        c->route = rt;
        c->cfg = cfg_hold(srv->cfg);
        c->token = srv->opts->tokens.n ? pss->token : -1;
        c->anon = pss->anon;
        memcpy(c->client, pss->client, sizeof(c->client));
        pss->conn = c;
        srv->ws_conns++;
        c->last_rx_ms = dl_now_ms();
        if (srv->opts->ws_idle_s > 0)
                lws_sul_schedule(lws_get_context(wsi), 0, &c->srv_idle, on_srv_idle,
                                 (lws_usec_t)srv->opts->ws_idle_s * 500000);
        if (c->d->ws_open)
                c->d->ws_open(c, rt->tag);
        return 0;
}

static int on_ws_receive(server_t *srv, conn_t *c, struct lws *wsi, const char *in, size_t len)
{
        if (lws_is_first_fragment(wsi)) {
                c->rx.len = 0;
                c->rx_binary = lws_frame_is_binary(wsi);
                c->rx_refused = false;
        }
        c->last_ms = c->last_rx_ms = dl_now_ms();
        if (c->rx_refused || c->closing)
                return 0; /* the rest of a refused message */
        if (c->rx.len + len > srv->opts->message_max) {
                /* no client expects to go on after this: the codec may say why, then close */
                c->rx_refused = true;
                buf_free(&c->rx);
                log_ws_too_large(c);
                if (c->d->ws_message)
                        c->d->ws_message(c, NULL, 0, false);
                dl_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
                return 0;
        }
        buf_append(&c->rx, in, len);
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
                if (c->d->ws_message)
                        c->d->ws_message(c, c->rx.data ? c->rx.data : "", c->rx.len, c->rx_binary);
                c->rx.len = 0;
        }
        return 0;
}

static int on_ws_writeable(conn_t *c, struct lws *wsi)
{
        if (c->want_ping && !c->closing) {
                /* with a payload: lws 4.1 reports no empty pong (RECEIVE_PONG) */
                unsigned char ping[LWS_PRE + 8];
                memcpy(ping + LWS_PRE, "runcell", 7);
                c->want_ping = false;
                if (lws_write(wsi, ping + LWS_PRE, 7, LWS_WRITE_PING) < 0)
                        return -1;
                if (c->head)
                        lws_callback_on_writable(wsi);
                return 0;
        }
        if (!c->head) {
                if (c->closing) {
                        lws_close_reason(wsi, (enum lws_close_status)c->close_status,
                                         (unsigned char *)c->close_reason, strlen(c->close_reason));
                        return -1;
                }
                return 0;
        }
        frame_t *f = c->head;
        if (lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
                return -1;
        c->head = f->next;
        if (!c->head)
                c->tail = NULL;
        c->queued -= f->len;
        free(f);
        if (c->paused && c->queued < OUTQ_LOW)
                conn_pause(c, false);
        if (c->head || c->closing)
                lws_callback_on_writable(wsi);
        return 0;
}

/* Answer a request with a plain HTTP/1.1 refusal, then close: clients report the status (lws'
 * own helper answers HTTP/1.0 here). extra: one more header line ("name: value") or NULL. */
static int refuse_raw_http(struct lws *wsi, int status, const char *code, const char *msg,
                           const char *extra)
{
        const char *reason = status == 400   ? "Bad Request"
                             : status == 401 ? "Unauthorized"
                             : status == 403 ? "Forbidden"
                             : status == 426 ? "Upgrade Required"
                             : status == 503 ? "Service Unavailable"
                                             : "Not Found";
        char body[256], resp[LWS_PRE + 768];
        int bl = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n",
                          code, msg);
        int n = snprintf(resp + LWS_PRE, sizeof(resp) - LWS_PRE,
                         "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                         "x-content-type-options: nosniff\r\n"
                         "content-length: %d\r\n%s%sconnection: close\r\n\r\n%s",
                         status, reason, bl, extra ? extra : "", extra ? "\r\n" : "", body);
        lws_write(wsi, (unsigned char *)resp + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS);
        return -1;
}

/* A WebSocket handshake refused (in the log too). */
static int refuse_ws(struct lws *wsi, int status, const char *code, const char *msg,
                     const char *extra)
{
        log_ws_refused(lws_context_user(lws_get_context(wsi)), wsi, status, code, msg);
        return refuse_raw_http(wsi, status, code, msg, extra);
}

static int refuse_handshake(struct lws *wsi, int denied, const char *code)
{
        const char *msg = denied == 401   ? "a valid token is required"
                          : denied == 403 ? "this origin is not allowed"
                          : denied == 503 ? "the server has no room for another connection"
                                          : "no WebSocket at this path";
        return refuse_ws(wsi, denied, code, msg, NULL);
}

/* RFC 6455 4.2.1: version 13 and a key that is 16 bytes in base64; else 426 (naming the
 * version runcell speaks) or 400. lws 4.1 would answer 101 to any version. */
static int check_ws_handshake(struct lws *wsi)
{
        char v[8], key[64];
        if (lws_hdr_total_length(wsi, WSI_TOKEN_VERSION) != 2 ||
            lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_VERSION) != 2 || strcmp(v, "13") != 0)
                return refuse_ws(wsi, 426, "bad_websocket_version",
                                 "Sec-WebSocket-Version must be 13", "sec-websocket-version: 13");
        char raw[64];
        int kl = lws_hdr_copy(wsi, key, sizeof(key), WSI_TOKEN_KEY);
        if (kl != 24 ||
            strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != 22 ||
            strcmp(key + 22, "==") != 0 || lws_b64_decode_string(key, raw, sizeof(raw)) != 16)
                return refuse_ws(wsi, 400, "bad_websocket_key",
                                 "Sec-WebSocket-Key must be 16 bytes in base64", NULL);
        return 0;
}

static int callback_main(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
        pss_t *pss = user;
        server_t *srv = lws_context_user(lws_get_context(wsi));
        switch (reason) { /* connection accounting (conns.c); user is not a pss here */
        case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
                return conns_filter(srv, user);
        case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
                conns_adopted(srv, wsi);
                return 0;
        case LWS_CALLBACK_WSI_DESTROY:
                /* the job engine's raw files have their own protocol and opaque data */
                if (lws_get_protocol(wsi) && lws_get_protocol(wsi)->callback == callback_main)
                        conns_destroyed(srv, wsi);
                return 0;
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
                if (in && strcasecmp(in, "h2c") == 0 && !srv->opts->h2c)
                        return refuse_raw_http(wsi, 400, "upgrade_refused",
                                               "h2c (HTTP/2 over plain TCP) is not enabled", NULL);
                return 0;
        default:
                break;
        }
        switch (reason) {
        case LWS_CALLBACK_HTTP:
        case LWS_CALLBACK_HTTP_BODY:
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        case LWS_CALLBACK_HTTP_WRITEABLE:
        case LWS_CALLBACK_CLOSED_HTTP:
        case LWS_CALLBACK_ESTABLISHED:
        case LWS_CALLBACK_RECEIVE:
        case LWS_CALLBACK_RECEIVE_PONG:
        case LWS_CALLBACK_SERVER_WRITEABLE:
        case LWS_CALLBACK_CLOSED:
                /* lws may report a connection that never got per-session data (TLS set-up) */
                if (!pss)
                        return lws_callback_http_dummy(wsi, reason, user, in, len);
                break;
        default:
                break;
        }
        switch (reason) {
        case LWS_CALLBACK_HTTP: {
                int r = on_http(srv, pss, wsi, in);
                http_req_t *h = pss->http;
                /* /healthz and /metrics go out from here when the socket takes them, not on
                 * the next turn of lws' poll() (a pass over every descriptor: ~6 ms with
                 * 20,000 connections); the transaction ends as after a WRITEABLE answer */
                if (r || !h || !h->resp || h->headers_sent || lws_send_pipe_choked(wsi) ||
                    (strcmp(in, "/healthz") != 0 && strcmp(in, "/metrics") != 0))
                        return r;
                r = http_writeable(wsi, h);
                if (r <= 0)
                        return r;
                bool close_now = h->conn == CONN_CLOSE;
                http_free(h);
                pss->http = NULL;
                if (close_now)
                        return -1;
                return lws_http_transaction_completed(wsi) ? -1 : 0;
        }
        case LWS_CALLBACK_HTTP_BODY:
                if (pss->http && !pss->http->too_large) {
                        if (pss->http->body.len + len > srv->opts->message_max)
                                http_too_large(pss->http);
                        else
                                buf_append(&pss->http->body, in, len);
                }
                return 0;
        case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
                http_req_t *h = pss->http;
                if (h && !h->too_large && h->route && !h->answered) {
                        h->route = claim_route(srv, h->route, h->body.data, h->body.len);
                        http_dispatch(h);
                }
                return 0;
        }
        case LWS_CALLBACK_HTTP_WRITEABLE: {
                int r = pss->http ? http_writeable(wsi, pss->http) : 0;
                if (r <= 0)
                        return r;
                bool close_now = pss->http->conn == CONN_CLOSE;
                http_free(pss->http); /* keep-alive: the next request gets a fresh one */
                pss->http = NULL;
                /* said "connection: close": lws would still wait for the rest of a body */
                if (close_now)
                        return -1;
                return lws_http_transaction_completed(wsi) ? -1 : 0;
        }
        case LWS_CALLBACK_CLOSED_HTTP:
                if (pss->http) {
                        http_free(pss->http);
                        pss->http = NULL;
                }
                return 0;
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
                if (check_ws_handshake(wsi))
                        return -1;
                /* draining (SIGTERM): a new WebSocket could start no run; refused as an HTTP
                 * run is (503), so that a balancer or the client tries another node */
                if (srv->draining || stop_requested)
                        return refuse_ws(wsi, 503, "shutting_down", "the server is shutting down",
                                         "retry-after: 1");
                const char *code = NULL;
                char uri[160];
                bool unused;
                if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
                        uri[0] = 0;
                int full = conns_request(srv, wsi, uri, true, &code, &unused);
                if (full)
                        return refuse_handshake(wsi, full, code);
                int denied = check_access(srv, wsi, true, uri, &code, &pss->token, &pss->anon);
                pss->gen = srv->cfg->gen;
                if (!denied)
                        conns_client(srv, wsi, pss->client, sizeof(pss->client));
                bool known = false;
                if (!denied && (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
                                !find_route(srv, uri, DL_WS, &known))) {
                        denied = 404; /* no dialect has a WebSocket here (or it is off) */
                        code = "not_found";
                }
                return denied ? refuse_handshake(wsi, denied, code) : 0;
        }
        case LWS_CALLBACK_ESTABLISHED:
                return on_ws_established(srv, pss, wsi);
        case LWS_CALLBACK_RECEIVE:
                return pss->conn ? on_ws_receive(srv, pss->conn, wsi, in, len) : -1;
        case LWS_CALLBACK_RECEIVE_PONG:
                if (pss->conn)
                        pss->conn->last_rx_ms = dl_now_ms();
                return 0;
        case LWS_CALLBACK_SERVER_WRITEABLE:
                return pss->conn ? on_ws_writeable(pss->conn, wsi) : 0;
        case LWS_CALLBACK_CLOSED:
                if (pss->conn) {
                        conn_free(pss->conn);
                        pss->conn = NULL;
                        srv->ws_conns--;
                }
                return 0;
        default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
}

const struct lws_protocols protocols[] = {
    {"runcell-v1", callback_main, sizeof(pss_t), 64 * 1024, 0, NULL, 0},
    {EV_LWS_PROTOCOL, ev_lws_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};
