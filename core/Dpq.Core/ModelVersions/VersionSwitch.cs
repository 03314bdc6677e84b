using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Dpq.ModelVersions;

/// <summary>What a switch attempt did.</summary>
public enum SwitchOutcome { Activated, Rejected, PointerMoved }

/// <summary>
/// Moves the active pointer, always by one write conditional on the pointer as read: a version being built
/// is activated once it covers every image and its held-out mAP is not worse than the active one's by
/// more than <see cref="LifecycleOptions.MaxMapDrop"/> (else it is kept as rejected, with the figures);
/// a rollback points back at a version that was active before.
/// </summary>
public sealed class VersionSwitch(ModelRegistry registry, VersionRecords records, LifecycleOptions options, TimeProvider time, ILogger<VersionSwitch> logger)
{
    /// <summary>Activates or rejects <paramref name="version"/>, which covers every image now; the reason when rejected.</summary>
    public async Task<(SwitchOutcome Outcome, string? Reason)> SwitchAsync(string version, CancellationToken cancellationToken = default)
    {
        var record = await records.GetAsync(version, cancellationToken) ?? throw new InvalidOperationException($"model {version} has no lifecycle record");
        var active = await registry.GetActiveAsync(cancellationToken);
        if (active is not null && active.Version != version && await WorseByAsync(record, active.Version, cancellationToken) is { } reason)
        {
            await records.UpdateAsync(version, r => r with { State = VersionState.Rejected, Reason = reason }, cancellationToken);
            logger.LogWarning("Model {ModelVersion} is rejected: {Reason}", version, reason);
            return (SwitchOutcome.Rejected, reason);
        }
        if (active?.Version != version && !await registry.ActivateAsync(version, active, cancellationToken))
            return (SwitchOutcome.PointerMoved, "the active pointer moved meanwhile");
        await records.UpdateAsync(version, r => r with { ActivatedAt = time.GetUtcNow() }, cancellationToken);
        logger.LogInformation("Model {ModelVersion} is active (was {Previous})", version, active?.Version ?? "none");
        return (SwitchOutcome.Activated, null);
    }

    /// <summary>
    /// Activates <paramref name="version"/>, published by hand (<c>./dpq publish</c>), and records it as ready and
    /// activated, so that a later rollback can name it. Retries while other writers move the pointer.
    /// </summary>
    public async Task ActivatePublishedAsync(string version, CancellationToken cancellationToken = default)
    {
        var manifest = await registry.ReadManifestAsync(version, cancellationToken) ?? throw new InvalidOperationException($"model {version} is not published");
        for (var attempt = 0; ; attempt++)
        {
            var active = await registry.GetActiveAsync(cancellationToken);
            if (active?.Version == version || await registry.ActivateAsync(version, active, cancellationToken)) break;
            if (attempt == 4) throw new InvalidOperationException($"could not activate {version}: the active pointer kept changing");
        }
        var now = time.GetUtcNow();
        if (!await records.CreateAsync(new VersionRecord(version, VersionState.Ready, now) { HeldOutMap = manifest.HeldOutMap(), ActivatedAt = now }, cancellationToken))
            await records.UpdateAsync(version, r => r with { State = r.State == VersionState.Retired ? r.State : VersionState.Ready, ActivatedAt = now }, cancellationToken);
    }

    /// <summary>
    /// Points the registry back at <paramref name="version"/>, or, when null, at the version active before the
    /// current one; returns the version now active. Only a ready version (one that was active, or covered
    /// every image) can be named.
    /// </summary>
    public async Task<string> RollbackAsync(string? version, CancellationToken cancellationToken = default)
    {
        var active = await registry.GetActiveAsync(cancellationToken) ?? throw new InvalidOperationException("no version is active: nothing to roll back");
        var all = await records.ListAsync(cancellationToken);
        var target = version is null
            ? all.Where(r => r.State == VersionState.Ready && r.Version != active.Version && r.ActivatedAt is not null).MaxBy(r => r.ActivatedAt)
                ?? throw new InvalidOperationException($"no version was active before {active.Version}")
            : all.SingleOrDefault(r => r.Version == version) ?? throw new InvalidOperationException($"model {version} has no lifecycle record");
        if (target.Version == active.Version) return active.Version;
        if (target.State != VersionState.Ready)
            throw new InvalidOperationException($"model {target.Version} is {target.State.ToString().ToLowerInvariant()}: only a ready version can be activated");
        if (!await registry.ActivateAsync(target.Version, active, cancellationToken))
            throw new InvalidOperationException("the active pointer moved meanwhile: look at ./dpq versions and try again");
        await records.UpdateAsync(target.Version, r => r with { ActivatedAt = time.GetUtcNow() }, cancellationToken);
        logger.LogWarning("Rolled back from {Previous} to {ModelVersion}", active.Version, target.Version);
        return target.Version;
    }

    /// <summary>Why <paramref name="candidate"/> may not replace <paramref name="activeVersion"/>; null when it may.</summary>
    private async Task<string?> WorseByAsync(VersionRecord candidate, string activeVersion, CancellationToken cancellationToken)
    {
        var activeMap = (await records.GetAsync(activeVersion, cancellationToken))?.HeldOutMap is { Count: > 0 } recorded
            ? recorded
            : (await registry.ReadManifestAsync(activeVersion, cancellationToken))?.HeldOutMap() ?? [];
        var bits = candidate.HeldOutMap.Keys.Intersect(activeMap.Keys).DefaultIfEmpty(-1).Max();
        if (bits < 0) return null; // nothing to compare on: the active version was never measured on held-out images
        var drop = activeMap[bits] - candidate.HeldOutMap[bits];
        return drop > options.MaxMapDrop
            ? string.Create(CultureInfo.InvariantCulture,
                $"held-out mAP at {bits} bits is {candidate.HeldOutMap[bits]:F4}, {drop:F4} below {activeVersion}'s {activeMap[bits]:F4}; the allowed drop is {options.MaxMapDrop:F4}")
            : null;
    }
}
