"""Channel profile of a SIP (mod_sofia) leg, derived from esl-traces/01b-connect-sofia.jsonl.

Values use @@NAME@@ placeholders filled per call; ops are (variable, value or None=delete) applied in
order with FreeSWITCH's delete-then-append semantics (switch_channel.c, switch_event.c).
Generated once from the trace; edit by hand only with the trace at hand.
"""

CALLER_PROFILE_FIELDS = ['Direction',
 'Logical-Direction',
 'Username',
 'Dialplan',
 'Caller-ID-Name',
 'Caller-ID-Number',
 'Orig-Caller-ID-Name',
 'Orig-Caller-ID-Number',
 'Network-Addr',
 'ANI',
 'Destination-Number',
 'Unique-ID',
 'Source',
 'Context',
 'Channel-Name',
 'Profile-Index',
 'Profile-Created-Time',
 'Channel-Created-Time',
 'Channel-Answered-Time',
 'Channel-Progress-Time',
 'Channel-Progress-Media-Time',
 'Channel-Hangup-Time',
 'Channel-Transfer-Time',
 'Channel-Resurrect-Time',
 'Channel-Bridged-Time',
 'Channel-Last-Hold',
 'Channel-Hold-Accum',
 'Screen-Bit',
 'Privacy-Hide-Name',
 'Privacy-Hide-Number']

BASE_VARS = [('direction', 'inbound'),
 ('uuid', '@@UUID@@'),
 ('session_id', '@@SESSION_ID@@'),
 ('sip_from_user', '@@CALLER@@'),
 ('sip_from_uri', '@@CALLER@@@127.0.0.1'),
 ('sip_from_host', '127.0.0.1'),
 ('video_media_flow', 'disabled'),
 ('audio_media_flow', 'disabled'),
 ('text_media_flow', 'disabled'),
 ('channel_name', 'sofia/external/@@CALLER@@@127.0.0.1'),
 ('sip_call_id', '@@CALL_ID@@'),
 ('sip_local_network_addr', '127.0.0.1'),
 ('sip_network_ip', '127.0.0.1'),
 ('sip_network_port', '5060'),
 ('sip_invite_stamp', '@@CREATED_US@@'),
 ('sip_received_ip', '127.0.0.1'),
 ('sip_received_port', '5060'),
 ('sip_via_protocol', 'udp'),
 ('sip_from_user_stripped', '@@CALLER@@'),
 ('sip_from_tag', '@@FROM_TAG@@'),
 ('sofia_profile_name', 'external'),
 ('sofia_profile_url', 'sip:mod_sofia@127.0.0.1:5080'),
 ('recovery_profile_name', 'external'),
 ('sip_Remote-Party-ID',
  '"@@CALLER_NAME@@" <sip:@@CALLER@@@127.0.0.1>;party=calling;screen=yes;privacy=off'),
 ('sip_cid_type', 'rpid'),
 ('sip_full_via', 'SIP/2.0/UDP 127.0.0.1;rport=5060;branch=z9hG4bK7r8Svg267pg0m'),
 ('sip_from_display', '@@CALLER_NAME@@'),
 ('sip_full_from', '"@@CALLER_NAME@@" <sip:@@CALLER@@@127.0.0.1>;tag=@@FROM_TAG@@'),
 ('sip_full_to', '<sip:@@NUMBER@@@127.0.0.1:5080>'),
 ('sip_allow',
  'INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY, PUBLISH, SUBSCRIBE'),
 ('sip_req_user', '@@NUMBER@@'),
 ('sip_req_port', '5080'),
 ('sip_req_uri', '@@NUMBER@@@127.0.0.1:5080'),
 ('sip_req_host', '127.0.0.1'),
 ('sip_to_user', '@@NUMBER@@'),
 ('sip_to_port', '5080'),
 ('sip_to_uri', '@@NUMBER@@@127.0.0.1:5080'),
 ('sip_to_host', '127.0.0.1'),
 ('sip_contact_user', 'mod_sofia'),
 ('sip_contact_port', '5060'),
 ('sip_contact_uri', 'mod_sofia@127.0.0.1:5060'),
 ('sip_contact_host', '127.0.0.1'),
 ('rtp_use_codec_string', 'PCMU,PCMA'),
 ('sip_user_agent', 'FreeSWITCH-mod_sofia/1.11.1-release~64bit'),
 ('sip_via_host', '127.0.0.1'),
 ('sip_via_rport', '5060'),
 ('max_forwards', '70'),
 ('switch_r_sdp',
  'v=0\r\n'
  'o=FreeSWITCH 1795283983 1795283984 IN IP4 127.0.0.1\r\n'
  's=FreeSWITCH\r\n'
  'c=IN IP4 127.0.0.1\r\n'
  't=0 0\r\n'
  'm=audio 27656 RTP/AVP 0 8 101\r\n'
  'a=rtpmap:0 PCMU/8000\r\n'
  'a=rtpmap:8 PCMA/8000\r\n'
  'a=rtpmap:101 telephone-event/8000\r\n'
  'a=fmtp:101 0-15\r\n'
  'a=ptime:20\r\n'),
 ('ep_codec_string', 'CORE_PCM_MODULE.PCMU@8000h@20i@64000b,CORE_PCM_MODULE.PCMA@8000h@20i@64000b'),
 ('endpoint_disposition', 'DELAYED NEGOTIATION'),
 ('call_uuid', '@@UUID@@'),
 ('outside_call', 'true'),
 ('RFC2822_DATE', '@@RFC2822@@'),
 ('export_vars', 'RFC2822_DATE'),
 ('current_application_data', '127.0.0.1:8084 async full'),
 ('current_application', 'socket'),
 ('socket_host', '127.0.0.1')]

EARLY_MEDIA_OPS = [('rtp_use_codec_string', 'PCMU,PCMA'),
 ('remote_video_media_flow', 'inactive'),
 ('remote_text_media_flow', 'inactive'),
 ('remote_audio_media_flow', 'sendrecv'),
 ('audio_media_flow', 'sendrecv'),
 ('rtp_audio_recv_pt', '0'),
 ('rtp_use_codec_name', 'PCMU'),
 ('rtp_use_codec_rate', '8000'),
 ('rtp_use_codec_ptime', '20'),
 ('rtp_use_codec_channels', '1'),
 ('rtp_last_audio_codec_string', 'PCMU@8000h@20i@1c'),
 ('read_codec', 'PCMU'),
 ('original_read_codec', 'PCMU'),
 ('read_rate', '8000'),
 ('original_read_rate', '8000'),
 ('write_codec', 'PCMU'),
 ('write_rate', '8000'),
 ('dtmf_type', 'rfc2833'),
 ('local_media_ip', '127.0.0.1'),
 ('local_media_port', '30792'),
 ('advertised_media_ip', '127.0.0.1'),
 ('rtp_use_timer_name', 'soft'),
 ('rtp_use_pt', '0'),
 ('rtp_use_ssrc', '2735186111'),
 ('rtp_2833_send_payload', '101'),
 ('rtp_2833_recv_payload', '101'),
 ('remote_media_ip', '127.0.0.1'),
 ('remote_media_port', '27656'),
 ('endpoint_disposition', 'EARLY MEDIA')]

ANSWER_OPS = [('rtp_local_sdp_str',
  'v=0\r\n'
  'o=FreeSWITCH 1795280847 1795280848 IN IP4 127.0.0.1\r\n'
  's=FreeSWITCH\r\n'
  'c=IN IP4 127.0.0.1\r\n'
  't=0 0\r\n'
  'm=audio 30792 RTP/AVP 0 101\r\n'
  'a=rtpmap:0 PCMU/8000\r\n'
  'a=rtpmap:101 telephone-event/8000\r\n'
  'a=fmtp:101 0-15\r\n'
  'a=ptime:20\r\n'
  'a=sendrecv\r\n')]

ACK_OPS = [('sip_to_tag', 'a0KeH4remmXrB'),
 ('sip_from_tag', '@@FROM_TAG@@'),
 ('sip_cseq', '123102027'),
 ('sip_call_id', '@@CALL_ID@@'),
 ('sip_full_via', 'SIP/2.0/UDP 127.0.0.1;rport=5060;branch=z9hG4bK811jyBKa5Z6jg'),
 ('sip_from_display', '@@CALLER_NAME@@'),
 ('sip_full_from', '"@@CALLER_NAME@@" <sip:@@CALLER@@@127.0.0.1>;tag=@@FROM_TAG@@'),
 ('sip_full_to', '<sip:@@NUMBER@@@127.0.0.1:5080>;tag=a0KeH4remmXrB')]

HANGUP_OPS = [('sip_reason', 'Q.850;cause=16;text="NORMAL_CLEARING"'),
 ('sip_term_status', '200'),
 ('proto_specific_hangup_cause', 'sip:200'),
 ('sip_term_cause', '16')]

UNPARK_OPS = [('sip_user_agent', 'FreeSWITCH-mod_sofia/1.11.1-release~64bit'), ('sip_hangup_disposition', 'recv_bye')]

REPORTING_VARS = [('rtp_audio_in_raw_bytes', '0'),
 ('rtp_audio_in_media_bytes', '0'),
 ('rtp_audio_in_packet_count', '0'),
 ('rtp_audio_in_media_packet_count', '0'),
 ('rtp_audio_in_skip_packet_count', '34'),
 ('rtp_audio_in_jitter_packet_count', '0'),
 ('rtp_audio_in_dtmf_packet_count', '0'),
 ('rtp_audio_in_cng_packet_count', '0'),
 ('rtp_audio_in_flush_packet_count', '0'),
 ('rtp_audio_in_largest_jb_size', '0'),
 ('rtp_audio_in_jitter_min_variance', '0.00'),
 ('rtp_audio_in_jitter_max_variance', '0.00'),
 ('rtp_audio_in_jitter_loss_rate', '0.00'),
 ('rtp_audio_in_jitter_burst_rate', '0.00'),
 ('rtp_audio_in_mean_interval', '0.00'),
 ('rtp_audio_in_flaw_total', '0'),
 ('rtp_audio_in_quality_percentage', '100.00'),
 ('rtp_audio_in_mos', '4.50'),
 ('rtp_audio_out_raw_bytes', '5160'),
 ('rtp_audio_out_media_bytes', '5160'),
 ('rtp_audio_out_packet_count', '30'),
 ('rtp_audio_out_media_packet_count', '30'),
 ('rtp_audio_out_skip_packet_count', '0'),
 ('rtp_audio_out_dtmf_packet_count', '0'),
 ('rtp_audio_out_cng_packet_count', '0'),
 ('rtp_audio_rtcp_packet_count', '0'),
 ('rtp_audio_rtcp_octet_count', '0')]



# uuid_hold / uuid_hold off of a bridged SIP leg, derived from esl-traces/13-bind-meta-hold-transfer.jsonl:
# our re-INVITE offer (rtp_local_sdp_str) is set before CHANNEL_HOLD / CHANNEL_UNHOLD, the far end's answer
# (its 200 OK re-read: sip_* of the swapped dialog, switch_r_sdp a=recvonly / sendrecv, media flows) after it.
HOLD_OPS = [('rtp_local_sdp_str',
  'v=0\r\n'
  'o=FreeSWITCH 1796070714 1796070716 IN IP4 127.0.0.1\r\n'
  's=FreeSWITCH\r\n'
  'c=IN IP4 127.0.0.1\r\n'
  't=0 0\r\n'
  'm=audio 25660 RTP/AVP 0 101\r\n'
  'a=rtpmap:0 PCMU/8000\r\n'
  'a=rtpmap:101 telephone-event/8000\r\n'
  'a=fmtp:101 0-15\r\n'
  'a=ptime:20\r\n'
  'a=sendrecv\r\n')]
HOLD_ANSWER_OPS = [('sip_to_port', None),
 ('sip_from_display', None),
 ('sip_local_network_addr', '127.0.0.1'),
 ('sip_reply_host', '127.0.0.1'),
 ('sip_reply_port', '5060'),
 ('sip_network_ip', '127.0.0.1'),
 ('sip_network_port', '5060'),
 ('sip_user_agent', 'FreeSWITCH-mod_sofia/1.11.1-release~64bit'),
 ('sip_allow',
  'INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY, PUBLISH, SUBSCRIBE'),
 ('dlg_req_swap_direction', 'true'),
 ('sip_full_via', 'SIP/2.0/UDP 127.0.0.1:5080;rport=5080;branch=z9hG4bKDm5rH5gH8eaSm'),
 ('sip_full_from', '<sip:@@NUMBER@@@127.0.0.1:5080>;tag=3UZ85g9c9y1yD'),
 ('sip_to_display', '@@CALLER_NAME@@'),
 ('sip_full_to', '"@@CALLER_NAME@@" <sip:@@CALLER@@@127.0.0.1>;tag=@@FROM_TAG@@'),
 ('sip_from_user', '@@NUMBER@@'),
 ('sip_from_port', '5080'),
 ('sip_from_uri', '@@NUMBER@@@127.0.0.1:5080'),
 ('sip_from_host', '127.0.0.1'),
 ('sip_to_user', '@@CALLER@@'),
 ('sip_to_uri', '@@CALLER@@@127.0.0.1'),
 ('sip_to_host', '127.0.0.1'),
 ('sip_contact_user', 'mod_sofia'),
 ('sip_contact_port', '5060'),
 ('sip_contact_uri', 'mod_sofia@127.0.0.1:5060'),
 ('sip_contact_host', '127.0.0.1'),
 ('sip_to_tag', '@@FROM_TAG@@'),
 ('sip_from_tag', '3UZ85g9c9y1yD'),
 ('sip_cseq', '123494396'),
 ('sip_call_id', '@@CALL_ID@@'),
 ('switch_r_sdp',
  'v=0\r\n'
  'o=FreeSWITCH 1796064932 1796064934 IN IP4 127.0.0.1\r\n'
  's=FreeSWITCH\r\n'
  'c=IN IP4 127.0.0.1\r\n'
  't=0 0\r\n'
  'm=audio 31442 RTP/AVP 0 101\r\n'
  'a=rtpmap:0 PCMU/8000\r\n'
  'a=rtpmap:101 telephone-event/8000\r\n'
  'a=fmtp:101 0-15\r\n'
  'a=recvonly\r\n'
  'a=ptime:20\r\n'),
 ('ep_codec_string', 'CORE_PCM_MODULE.PCMU@8000h@20i@64000b'),
 ('rtp_use_codec_string', 'PCMU,PCMA'),
 ('remote_video_media_flow', 'inactive'),
 ('remote_text_media_flow', 'inactive'),
 ('remote_audio_media_flow', 'recvonly'),
 ('remote_media_ip', '127.0.0.1'),
 ('remote_media_port', '31442'),
 ('rtp_audio_recv_pt', '0'),
 ('dtmf_type', 'rfc2833'),
 ('rtp_2833_send_payload', '101'),
 ('rtp_2833_recv_payload', '101')]
UNHOLD_OPS = [('rtp_local_sdp_str',
  'v=0\r\n'
  'o=FreeSWITCH 1796070714 1796070717 IN IP4 127.0.0.1\r\n'
  's=FreeSWITCH\r\n'
  'c=IN IP4 127.0.0.1\r\n'
  't=0 0\r\n'
  'm=audio 25660 RTP/AVP 0 101\r\n'
  'a=rtpmap:0 PCMU/8000\r\n'
  'a=rtpmap:101 telephone-event/8000\r\n'
  'a=fmtp:101 0-15\r\n'
  'a=ptime:20\r\n'
  'a=sendrecv\r\n')]
UNHOLD_ANSWER_OPS = [('sip_local_network_addr', '127.0.0.1'),
 ('sip_reply_host', '127.0.0.1'),
 ('sip_reply_port', '5060'),
 ('sip_network_ip', '127.0.0.1'),
 ('sip_network_port', '5060'),
 ('sip_user_agent', 'FreeSWITCH-mod_sofia/1.11.1-release~64bit'),
 ('sip_allow',
  'INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY, PUBLISH, SUBSCRIBE'),
 ('dlg_req_swap_direction', 'true'),
 ('sip_full_via', 'SIP/2.0/UDP 127.0.0.1:5080;rport=5080;branch=z9hG4bKF6QaNUjr20pyB'),
 ('sip_full_from', '<sip:@@NUMBER@@@127.0.0.1:5080>;tag=3UZ85g9c9y1yD'),
 ('sip_to_display', '@@CALLER_NAME@@'),
 ('sip_full_to', '"@@CALLER_NAME@@" <sip:@@CALLER@@@127.0.0.1>;tag=@@FROM_TAG@@'),
 ('sip_from_user', '@@NUMBER@@'),
 ('sip_from_port', '5080'),
 ('sip_from_uri', '@@NUMBER@@@127.0.0.1:5080'),
 ('sip_from_host', '127.0.0.1'),
 ('sip_to_user', '@@CALLER@@'),
 ('sip_to_uri', '@@CALLER@@@127.0.0.1'),
 ('sip_to_host', '127.0.0.1'),
 ('sip_contact_user', 'mod_sofia'),
 ('sip_contact_port', '5060'),
 ('sip_contact_uri', 'mod_sofia@127.0.0.1:5060'),
 ('sip_contact_host', '127.0.0.1'),
 ('sip_to_tag', '@@FROM_TAG@@'),
 ('sip_from_tag', '3UZ85g9c9y1yD'),
 ('sip_cseq', '123494397'),
 ('sip_call_id', '@@CALL_ID@@'),
 ('switch_r_sdp',
  'v=0\r\n'
  'o=FreeSWITCH 1796064932 1796064935 IN IP4 127.0.0.1\r\n'
  's=FreeSWITCH\r\n'
  'c=IN IP4 127.0.0.1\r\n'
  't=0 0\r\n'
  'm=audio 31442 RTP/AVP 0 101\r\n'
  'a=rtpmap:0 PCMU/8000\r\n'
  'a=rtpmap:101 telephone-event/8000\r\n'
  'a=fmtp:101 0-15\r\n'
  'a=ptime:20\r\n'),
 ('ep_codec_string', 'CORE_PCM_MODULE.PCMU@8000h@20i@64000b'),
 ('rtp_use_codec_string', 'PCMU,PCMA'),
 ('remote_video_media_flow', 'inactive'),
 ('remote_text_media_flow', 'inactive'),
 ('remote_audio_media_flow', 'sendrecv'),
 ('remote_media_ip', '127.0.0.1'),
 ('remote_media_port', '31442'),
 ('rtp_audio_recv_pt', '0'),
 ('dtmf_type', 'rfc2833'),
 ('rtp_2833_send_payload', '101'),
 ('rtp_2833_recv_payload', '101')]
