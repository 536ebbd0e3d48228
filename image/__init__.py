"""The appliance's root filesystem (`make image`) and its boot test under qemu (`make image-test`)."""
