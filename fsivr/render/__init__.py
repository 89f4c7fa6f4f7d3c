"""FreeSWITCH configuration rendered from the store (directory, dialplan, gateways)."""
