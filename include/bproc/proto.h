/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bproc wire protocol between the master (bprocfs), the node agents and
 * agent-to-agent transfers.
 *
 * Everything on the wire is little-endian.  A connection is a stream of
 * frames; each frame is a 16-byte header, `len` bytes of payload and, once
 * the handshake is over, a 32-byte message authentication code:
 *
 *	struct bproc_frame_hdr | payload[len] | mac[BPROC_MAC_BYTES]
 *
 * The handshake (HELLO both ways, then AUTH both ways) proves to each side
 * that the other holds the cluster key.  Both sides then derive one session
 * key per direction from the cluster key and the two nonces.  The MAC of a
 * frame is keyed BLAKE2b-256 (libsodium crypto_generichash) with the
 * direction's session key over the little-endian 64-bit sequence number of
 * the frame in that direction (0 for the first frame after AUTH), the header
 * and the payload.  The sequence number is not sent: a dropped, replayed or
 * reordered frame fails its MAC.
 *
 *	master32   = BLAKE2b-256(contents of the key file)
 *	proof_c    = HMAC-SHA-512-256(master32, "bproc-auth-client" | hello_c | hello_s)
 *	proof_s    = HMAC-SHA-512-256(master32, "bproc-auth-server" | hello_c | hello_s)
 *	key_c2s    = BLAKE2b-256(key master32, "bproc-key-c2s" | nonce_c | nonce_s)
 *	key_s2c    = BLAKE2b-256(key master32, "bproc-key-s2c" | nonce_c | nonce_s)
 *
 * hello_c and hello_s are the HELLO payloads as sent.  The client (the side
 * that connected) sends its AUTH first; the server answers with its own only
 * after checking the client's.
 *
 * Any frame that is malformed (bad version, unknown type, length above
 * BPROC_MAX_PAYLOAD or not what the type requires, bad MAC, a string field
 * without its terminating NUL) ends that connection; the daemon goes on
 * serving every other connection.
 */
#ifndef _BPROC_PROTO_H
#define _BPROC_PROTO_H

#include <linux/types.h>

#define BPROC_PROTO_VERSION 1

/* Largest payload of one frame: bulk streams are cut into frames this size. */
#define BPROC_MAX_PAYLOAD (1u << 20)

#define BPROC_MAC_BYTES 32
#define BPROC_NONCE_BYTES 32
#define BPROC_PROOF_BYTES 32
#define BPROC_NODE_NAME_MAX 16

/* Default TCP ports: the master's listener and each agent's listener. */
#define BPROC_MASTER_PORT 2223
#define BPROC_NODE_PORT 2224

struct bproc_frame_hdr {
	__le32 len; /* payload bytes, not counting header or MAC */
	__le16 type; /* enum bproc_msg_type */
	__u8 version; /* BPROC_PROTO_VERSION */
	__u8 flags; /* none defined yet, must be 0 */
	__le32 stream; /* multiplexed stream id (image, IO), 0 for control */
	__le32 reserved; /* must be 0 */
};

enum bproc_msg_type {
	/* handshake, never carry a MAC */
	BPROC_MSG_HELLO = 1, /* struct bproc_msg_hello, both ways */
	BPROC_MSG_AUTH = 2, /* struct bproc_msg_auth, both ways */

	/* control, both ways */
	BPROC_MSG_BYE = 3, /* struct bproc_msg_bye: why the sender closes */
	BPROC_MSG_PING = 4, /* struct bproc_msg_ping */
	BPROC_MSG_PONG = 5, /* struct bproc_msg_ping, cookie echoed */

	/* membership */
	BPROC_MSG_STATUS = 16, /* agent -> master: struct bproc_msg_status */
	BPROC_MSG_STATUS_ACK = 17, /* master -> agent: struct bproc_msg_ping */

	/* reserved for the migration engine and process space */
	BPROC_MSG_MOVE_ORDER = 32, /* master -> agent: start a move */
	BPROC_MSG_MOVE_RESULT = 33, /* agent -> master: how a move ended */
	BPROC_MSG_IMAGE_BEGIN =
		48, /* agent -> agent: a process image follows */
	BPROC_MSG_IMAGE_DATA = 49, /* agent -> agent: image bytes */
	BPROC_MSG_IMAGE_END = 50, /* agent -> agent: image complete */
	BPROC_MSG_SIGNAL = 64, /* signal forwarding to a moved process */
	BPROC_MSG_IO_DATA = 80, /* stdin/stdout/stderr forwarding */
	BPROC_MSG_IO_EOF = 81, /* end of one forwarded stream */
	BPROC_MSG_EXIT = 96, /* remote exit of a moved process */
};

/* Who speaks, in bproc_msg_hello.role. */
enum bproc_role {
	BPROC_ROLE_AGENT = 1, /* a node agent joining the master */
	BPROC_ROLE_MASTER = 2, /* the master answering an agent */
	BPROC_ROLE_PEER = 3, /* agent to agent, or a tool to an agent */
};

struct bproc_msg_hello {
	__le32 role; /* enum bproc_role */
	__le32 flags; /* none defined yet, must be 0 */
	__u8 nonce[BPROC_NONCE_BYTES]; /* fresh random bytes */
	char node
		[BPROC_NODE_NAME_MAX]; /* "master" or the node number, NUL-padded */
	__le64 reserved; /* must be 0 */
};

struct bproc_msg_auth {
	__u8 proof[BPROC_PROOF_BYTES];
};

/* Reasons in bproc_msg_bye.reason. */
enum bproc_bye_reason {
	BPROC_BYE_SHUTDOWN = 1, /* the sender stops */
	BPROC_BYE_UNKNOWN_NODE = 2, /* the node is not in the master's config */
	BPROC_BYE_REPLACED = 3, /* a newer connection for the node took over */
	BPROC_BYE_TIMEOUT = 4, /* the peer was silent too long */
	BPROC_BYE_REMOVED = 5, /* the node was removed from the config */
};

struct bproc_msg_bye {
	__le32 reason; /* enum bproc_bye_reason */
	__le32 pad; /* must be 0 */
	char text[56]; /* readable reason, NUL-terminated */
};

struct bproc_msg_ping {
	__le64 cookie;
};

/* bproc_msg_status.flags */
#define BPROC_STATUS_ENGINE \
	(1u << 0) /* bproc.ko loaded and /dev/bproc usable */
#define BPROC_STATUS_FAULT (1u << 1) /* the agent reports a fault: see fault */

struct bproc_msg_status {
	__le32 flags;
	__le32 cpus;
	__le64 mem_total_kb;
	__le64 mem_avail_kb;
	__le32 load1_milli; /* load average times 1000 */
	__le32 load5_milli;
	__le32 load15_milli;
	__le32 procs; /* processes on the node */
	char kernel[64]; /* uname release, NUL-terminated */
	char engine[64]; /* bproc.ko version, or "none (why)" */
	char fault[64]; /* why the node is in error, "" when no fault */
};

#ifdef __cplusplus
#define BPROC_STATIC_ASSERT static_assert
#else
#define BPROC_STATIC_ASSERT _Static_assert
#endif

BPROC_STATIC_ASSERT(sizeof(struct bproc_frame_hdr) == 16, "frame header");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_hello) == 64, "hello");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_auth) == 32, "auth");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_bye) == 64, "bye");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_ping) == 8, "ping");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_status) == 232, "status");

#endif /* _BPROC_PROTO_H */
