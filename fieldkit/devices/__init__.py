"""Meters and IC-card readers over serial, and emulators that answer like them.

One obvious module per layer (python-OBD style; each knows only the one below it):

- :mod:`fieldkit.devices.cjt188` — sans-IO CJ/T 188 codec: ``encode_frame``,
  ``request_read_data``, ``request_read_address``, ``request_valve``, the incremental
  ``FrameDecoder`` (returns ``Frame`` or typed ``FrameError``), ``decode_metering`` (901F).
- :mod:`fieldkit.devices.profiles` — meter profiles as data (``data/meter_profiles``).
- :mod:`fieldkit.devices.transport` — ``SerialTransport`` over ``serial_for_url``, typed
  ``PortError``s (``PortNotFoundError``, ``PortInUseError``, ``PortIOError``,
  ``NoReplyError``), ``list_ports()``.
- :mod:`fieldkit.devices.meter` — ``find_meter`` / ``read_meter`` / ``probe`` (profile
  confirmed by a 901F read), ``MeterLink`` (replies matched to requests, deadlines, retries;
  valve write behind a confirmation), ``MeterReading`` with the raw frames.
- :mod:`fieldkit.devices.linkcache` — ``LinkCache``: the confirmed profile + baud per port
  and meter address, in the user's data dir.
- :mod:`fieldkit.devices.cardreader` — ``CardReader`` interface, ``Acr30SerialReader``,
  ``PcscReader`` (optional pyscard), ``open_reader``, ``CardImage``, ``Sle4442`` model.
- :mod:`fieldkit.devices.emulator` — ``start_meter_emulator`` (with ``MeterFaults``),
  ``start_card_emulator`` → ``EmulatorHandle(port_path, stop())`` on a pty;
  ``running_emulators()``.
- :mod:`fieldkit.devices.vpcd` — ``start_vpcd_card`` → ``VirtualCard``: an SLE4442 in the
  vpcd virtual PC/SC reader (vsmartcard) over TCP, recording every APDU.
- :mod:`fieldkit.devices.present` — readings as labelled, translated lines (CLI and TUI).

Nothing here imports Textual or FastAPI.
"""
