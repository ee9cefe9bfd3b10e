"""Test-only drivers for a real-but-fake OpenStack on one host.

* harness_fakes.ml2.AgentlessMechanismDriver   ([ml2] mechanism_drivers = agentless)
* harness_fakes.nova_compute             (python -m harness_fakes.nova_compute: nova-compute whose fake.FakeDriver snapshots upload data)
* harness_fakes.cinder_volume.FakeVolumeDriver (volume_driver = harness_fakes.cinder_volume.FakeVolumeDriver)
"""

# Copied into Cascade (scripts/real-openstack/harness_fakes) from the measured recipe in
# ../shared/real-openstack/harness_fakes, so that the tier installs from a clean clone.
