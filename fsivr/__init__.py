"""fsivr: the IVR engine of a business phone system, driven over FreeSWITCH's ESL outbound socket."""

__version__ = "0.1.0"
