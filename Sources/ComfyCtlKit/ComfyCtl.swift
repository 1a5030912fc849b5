// comfyctl: placeholder until the host tool lands.
public enum ComfyCtl {}
